// RUN: TC_ROUNDTRIP
// RUN: TC_GENERIC_ROUNDTRIP

// Every tc op in its custom syntax survives custom -> generic -> custom; the
// GENERIC lines pin the generic form of each op family.

func.func @elementwise(%x: tensor<?x4xf64>, %y: tensor<?x4xf64>, %i: tensor<?x4xi32>, %m: tensor<?x4xi1>, %f: tensor<3xf32>) {
  %neg = tc.neg %x : tensor<?x4xf64>
  %abs = tc.abs %i : tensor<?x4xi32>
  %sign = tc.sign %x : tensor<?x4xf64>
  %not = tc.not %m : tensor<?x4xi1>
  %bitnot = tc.not %i : tensor<?x4xi32>
  %exp = tc.exp %f : tensor<3xf32>
  %log = tc.log %f : tensor<3xf32>
  %log1p = tc.log1p %f : tensor<3xf32>
  %expm1 = tc.expm1 %f : tensor<3xf32>
  %sqrt = tc.sqrt %f : tensor<3xf32>
  %sin = tc.sin %f : tensor<3xf32>
  %cos = tc.cos %f : tensor<3xf32>
  %tan = tc.tan %f : tensor<3xf32>
  %tanh = tc.tanh %f : tensor<3xf32>
  %sigmoid = tc.sigmoid %f : tensor<3xf32>
  %softplus = tc.softplus %f : tensor<3xf32>
  %erf = tc.erf %f : tensor<3xf32>
  %floor = tc.floor %f : tensor<3xf32>
  %ceil = tc.ceil %f : tensor<3xf32>
  %round = tc.round %f : tensor<3xf32>
  %add = tc.add %x, %y : tensor<?x4xf64>
  %sub = tc.sub %i, %i : tensor<?x4xi32>
  %mul = tc.mul %x, %y : tensor<?x4xf64>
  %div = tc.div %x, %y : tensor<?x4xf64>
  %floordiv = tc.floordiv %i, %i : tensor<?x4xi32>
  %mod = tc.mod %x, %y : tensor<?x4xf64>
  %pow = tc.pow %x, %y : tensor<?x4xf64>
  %maximum = tc.maximum %x, %y : tensor<?x4xf64>
  %minimum = tc.minimum %i, %i : tensor<?x4xi32>
  %and = tc.and %m, %m : tensor<?x4xi1>
  %or = tc.or %i, %i : tensor<?x4xi32>
  %xor = tc.xor %m, %m : tensor<?x4xi1>
  %eq = tc.eq %x, %y : tensor<?x4xf64> -> tensor<?x4xi1>
  %ne = tc.ne %i, %i : tensor<?x4xi32> -> tensor<?x4xi1>
  %lt = tc.lt %x, %y : tensor<?x4xf64> -> tensor<?x4xi1>
  %le = tc.le %x, %y : tensor<?x4xf64> -> tensor<?x4xi1>
  %gt = tc.gt %m, %m : tensor<?x4xi1> -> tensor<?x4xi1>
  %ge = tc.ge %x, %y : tensor<?x4xf64> -> tensor<?x4xi1>
  %select = tc.select %m, %x, %y : tensor<?x4xi1>, tensor<?x4xf64>
  %cast = tc.cast %x : tensor<?x4xf64> to tensor<?x4xi32>
  %tobool = tc.cast %i : tensor<?x4xi32> to tensor<?x4xi1>
  %wide = tc.cast %i : tensor<?x4xi32> to tensor<?x4xi64>
  %rand = tc.hash_uniform %wide : tensor<?x4xi64> to tensor<?x4xf32>
  func.return
}

// CHECK-LABEL: func.func @elementwise(%x: tensor<?x4xf64>, %y: tensor<?x4xf64>, %i: tensor<?x4xi32>, %m: tensor<?x4xi1>, %f: tensor<3xf32>) {
// CHECK-NEXT:    %neg = tc.neg %x : tensor<?x4xf64>
// CHECK-NEXT:    %abs = tc.abs %i : tensor<?x4xi32>
// CHECK-NEXT:    %sign = tc.sign %x : tensor<?x4xf64>
// CHECK-NEXT:    %not = tc.not %m : tensor<?x4xi1>
// CHECK-NEXT:    %bitnot = tc.not %i : tensor<?x4xi32>
// CHECK-NEXT:    %exp = tc.exp %f : tensor<3xf32>
// CHECK-NEXT:    %log = tc.log %f : tensor<3xf32>
// CHECK-NEXT:    %log1p = tc.log1p %f : tensor<3xf32>
// CHECK-NEXT:    %expm1 = tc.expm1 %f : tensor<3xf32>
// CHECK-NEXT:    %sqrt = tc.sqrt %f : tensor<3xf32>
// CHECK-NEXT:    %sin = tc.sin %f : tensor<3xf32>
// CHECK-NEXT:    %cos = tc.cos %f : tensor<3xf32>
// CHECK-NEXT:    %tan = tc.tan %f : tensor<3xf32>
// CHECK-NEXT:    %tanh = tc.tanh %f : tensor<3xf32>
// CHECK-NEXT:    %sigmoid = tc.sigmoid %f : tensor<3xf32>
// CHECK-NEXT:    %softplus = tc.softplus %f : tensor<3xf32>
// CHECK-NEXT:    %erf = tc.erf %f : tensor<3xf32>
// CHECK-NEXT:    %floor = tc.floor %f : tensor<3xf32>
// CHECK-NEXT:    %ceil = tc.ceil %f : tensor<3xf32>
// CHECK-NEXT:    %round = tc.round %f : tensor<3xf32>
// CHECK-NEXT:    %add = tc.add %x, %y : tensor<?x4xf64>
// CHECK-NEXT:    %sub = tc.sub %i, %i : tensor<?x4xi32>
// CHECK-NEXT:    %mul = tc.mul %x, %y : tensor<?x4xf64>
// CHECK-NEXT:    %div = tc.div %x, %y : tensor<?x4xf64>
// CHECK-NEXT:    %floordiv = tc.floordiv %i, %i : tensor<?x4xi32>
// CHECK-NEXT:    %mod = tc.mod %x, %y : tensor<?x4xf64>
// CHECK-NEXT:    %pow = tc.pow %x, %y : tensor<?x4xf64>
// CHECK-NEXT:    %maximum = tc.maximum %x, %y : tensor<?x4xf64>
// CHECK-NEXT:    %minimum = tc.minimum %i, %i : tensor<?x4xi32>
// CHECK-NEXT:    %and = tc.and %m, %m : tensor<?x4xi1>
// CHECK-NEXT:    %or = tc.or %i, %i : tensor<?x4xi32>
// CHECK-NEXT:    %xor = tc.xor %m, %m : tensor<?x4xi1>
// CHECK-NEXT:    %eq = tc.eq %x, %y : tensor<?x4xf64> -> tensor<?x4xi1>
// CHECK-NEXT:    %ne = tc.ne %i, %i : tensor<?x4xi32> -> tensor<?x4xi1>
// CHECK-NEXT:    %lt = tc.lt %x, %y : tensor<?x4xf64> -> tensor<?x4xi1>
// CHECK-NEXT:    %le = tc.le %x, %y : tensor<?x4xf64> -> tensor<?x4xi1>
// CHECK-NEXT:    %gt = tc.gt %m, %m : tensor<?x4xi1> -> tensor<?x4xi1>
// CHECK-NEXT:    %ge = tc.ge %x, %y : tensor<?x4xf64> -> tensor<?x4xi1>
// CHECK-NEXT:    %select = tc.select %m, %x, %y : tensor<?x4xi1>, tensor<?x4xf64>
// CHECK-NEXT:    %cast = tc.cast %x : tensor<?x4xf64> to tensor<?x4xi32>
// CHECK-NEXT:    %tobool = tc.cast %i : tensor<?x4xi32> to tensor<?x4xi1>
// CHECK-NEXT:    %wide = tc.cast %i : tensor<?x4xi32> to tensor<?x4xi64>
// CHECK-NEXT:    %rand = tc.hash_uniform %wide : tensor<?x4xi64> to tensor<?x4xf32>
// CHECK-NEXT:    func.return
// CHECK-NEXT:    }

// GENERIC-LABEL: "func.func"() <{sym_name = "elementwise", function_type = (tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xi32>, tensor<?x4xi1>, tensor<3xf32>) -> ()}> ({
// GENERIC:       %neg = "tc.neg"(%x) : (tensor<?x4xf64>) -> tensor<?x4xf64>
// GENERIC:       %add = "tc.add"(%x, %y) : (tensor<?x4xf64>, tensor<?x4xf64>) -> tensor<?x4xf64>
// GENERIC:       %lt = "tc.lt"(%x, %y) : (tensor<?x4xf64>, tensor<?x4xf64>) -> tensor<?x4xi1>
// GENERIC:       %select = "tc.select"(%m, %x, %y) : (tensor<?x4xi1>, tensor<?x4xf64>, tensor<?x4xf64>) -> tensor<?x4xf64>
// GENERIC:       %cast = "tc.cast"(%x) : (tensor<?x4xf64>) -> tensor<?x4xi32>

// -----

func.func @structural(%x: tensor<?x4xf64>, %v: tensor<4xf64>, %n: tensor<i64>, %h: tensor<2x3xf16>) {
  %splat = tc.constant dense<2.500000e+00> : tensor<f64>
  %list = tc.constant dense<[1, 2, 3]> : tensor<3xi64>
  %bools = tc.constant dense<[[true, false], [false, true]]> : tensor<2x2xi1>
  %empty = tc.constant dense<> : tensor<0x3xi8>
  %half = tc.constant dense<[1.500000e+00, -2.000000e+00]> : tensor<2xf16>
  %b = tc.broadcast %v(%n) : tensor<4xf64>, tensor<i64> -> tensor<?x4xf64>
  %b1 = tc.broadcast %splat() : tensor<f64>, -> tensor<2x3xf64>
  %sum = tc.sum %x axes = array<i64: 1> : tensor<?x4xf64> -> tensor<?xf64>
  %prod = tc.prod %x axes = array<i64: 0> keepdims : tensor<?x4xf64> -> tensor<1x4xf64>
  %max = tc.max %x axes = array<i64: 0, 1> : tensor<?x4xf64> -> tensor<f64>
  %min = tc.min %h axes = array<i64> : tensor<2x3xf16> -> tensor<2x3xf16>
  %argmax = tc.argmax %x axes = array<i64: 0, 1> keepdims : tensor<?x4xf64> -> tensor<1x1xi64>
  %argmin = tc.argmin %x axes = array<i64: 1> : tensor<?x4xf64> -> tensor<?xi64>
  %mv = tc.matmul %x, %v : tensor<?x4xf64>, tensor<4xf64> -> tensor<?xf64>
  %t = tc.transpose %x perm = array<i64: 1, 0> : tensor<?x4xf64> -> tensor<4x?xf64>
  %mm = tc.matmul %x, %t : tensor<?x4xf64>, tensor<4x?xf64> -> tensor<?x?xf64>
  %vm = tc.matmul %v, %t : tensor<4xf64>, tensor<4x?xf64> -> tensor<?xf64>
  %vv = tc.matmul %v, %v : tensor<4xf64>, tensor<4xf64> -> tensor<f64>
  %r = tc.reshape %x(%n) : tensor<?x4xf64>, tensor<i64> -> tensor<?xf64>
  %r2 = tc.reshape %v() : tensor<4xf64>, -> tensor<2x2xf64>
  %s = tc.slice %x[%n] starts = array<i64: -9223372036854775808, 0> stops = array<i64: 4611686018427387904, 4> steps = array<i64: 1, 2> : tensor<?x4xf64>, tensor<i64> -> tensor<?x2xf64>
  %s2 = tc.slice %v[] starts = array<i64: 3> stops = array<i64: -4611686018427387904> steps = array<i64: -1> : tensor<4xf64>, -> tensor<4xf64>
  %g = tc.gather %x[%list] : tensor<?x4xf64>, tensor<3xi64> -> tensor<3x4xf64>
  %g2 = tc.gather %x[%list, %list] : tensor<?x4xf64>, tensor<3xi64>, tensor<3xi64> -> tensor<3xf64>
  %c = tc.concatenate %x, %b axis(0) : tensor<?x4xf64>, tensor<?x4xf64> -> tensor<?x4xf64>
  %d = tc.dim %x[0] : tensor<?x4xf64>
  %a = tc.arange %n, %d, %n : tensor<i64> -> tensor<?xi64>
  func.return
}

// CHECK-LABEL: func.func @structural(%x: tensor<?x4xf64>, %v: tensor<4xf64>, %n: tensor<i64>, %h: tensor<2x3xf16>) {
// CHECK-NEXT:    %splat = tc.constant dense<2.500000e+00> : tensor<f64>
// CHECK-NEXT:    %list = tc.constant dense<[1, 2, 3]> : tensor<3xi64>
// CHECK-NEXT:    %bools = tc.constant dense<{{\[\[}}true, false], [false, true]]> : tensor<2x2xi1>
// CHECK-NEXT:    %empty = tc.constant dense<> : tensor<0x3xi8>
// CHECK-NEXT:    %half = tc.constant dense<[1.500000e+00, -2.000000e+00]> : tensor<2xf16>
// CHECK-NEXT:    %b = tc.broadcast %v(%n) : tensor<4xf64>, tensor<i64> -> tensor<?x4xf64>
// CHECK-NEXT:    %b1 = tc.broadcast %splat() : tensor<f64>, -> tensor<2x3xf64>
// CHECK-NEXT:    %sum = tc.sum %x axes = array<i64: 1> : tensor<?x4xf64> -> tensor<?xf64>
// CHECK-NEXT:    %prod = tc.prod %x axes = array<i64: 0> keepdims : tensor<?x4xf64> -> tensor<1x4xf64>
// CHECK-NEXT:    %max = tc.max %x axes = array<i64: 0, 1> : tensor<?x4xf64> -> tensor<f64>
// CHECK-NEXT:    %min = tc.min %h axes = array<i64> : tensor<2x3xf16> -> tensor<2x3xf16>
// CHECK-NEXT:    %argmax = tc.argmax %x axes = array<i64: 0, 1> keepdims : tensor<?x4xf64> -> tensor<1x1xi64>
// CHECK-NEXT:    %argmin = tc.argmin %x axes = array<i64: 1> : tensor<?x4xf64> -> tensor<?xi64>
// CHECK-NEXT:    %mv = tc.matmul %x, %v : tensor<?x4xf64>, tensor<4xf64> -> tensor<?xf64>
// CHECK-NEXT:    %t = tc.transpose %x perm = array<i64: 1, 0> : tensor<?x4xf64> -> tensor<4x?xf64>
// CHECK-NEXT:    %mm = tc.matmul %x, %t : tensor<?x4xf64>, tensor<4x?xf64> -> tensor<?x?xf64>
// CHECK-NEXT:    %vm = tc.matmul %v, %t : tensor<4xf64>, tensor<4x?xf64> -> tensor<?xf64>
// CHECK-NEXT:    %vv = tc.matmul %v, %v : tensor<4xf64>, tensor<4xf64> -> tensor<f64>
// CHECK-NEXT:    %r = tc.reshape %x(%n) : tensor<?x4xf64>, tensor<i64> -> tensor<?xf64>
// CHECK-NEXT:    %r2 = tc.reshape %v() : tensor<4xf64>, -> tensor<2x2xf64>
// CHECK-NEXT:    %s = tc.slice %x[%n] starts = array<i64: -9223372036854775808, 0> stops = array<i64: 4611686018427387904, 4> steps = array<i64: 1, 2> : tensor<?x4xf64>, tensor<i64> -> tensor<?x2xf64>
// CHECK-NEXT:    %s2 = tc.slice %v[] starts = array<i64: 3> stops = array<i64: -4611686018427387904> steps = array<i64: -1> : tensor<4xf64>, -> tensor<4xf64>
// CHECK-NEXT:    %g = tc.gather %x[%list] : tensor<?x4xf64>, tensor<3xi64> -> tensor<3x4xf64>
// CHECK-NEXT:    %g2 = tc.gather %x[%list, %list] : tensor<?x4xf64>, tensor<3xi64>, tensor<3xi64> -> tensor<3xf64>
// CHECK-NEXT:    %c = tc.concatenate %x, %b axis(0) : tensor<?x4xf64>, tensor<?x4xf64> -> tensor<?x4xf64>
// CHECK-NEXT:    %d = tc.dim %x[0] : tensor<?x4xf64>
// CHECK-NEXT:    %a = tc.arange %n, %d, %n : tensor<i64> -> tensor<?xi64>
// CHECK-NEXT:    func.return
// CHECK-NEXT:    }

// GENERIC-LABEL: "func.func"() <{sym_name = "structural", function_type = (tensor<?x4xf64>, tensor<4xf64>, tensor<i64>, tensor<2x3xf16>) -> ()}> ({
// GENERIC:       %list = "tc.constant"() <{value = dense<[1, 2, 3]> : tensor<3xi64>}> : () -> tensor<3xi64>
// GENERIC:       %b = "tc.broadcast"(%v, %n) : (tensor<4xf64>, tensor<i64>) -> tensor<?x4xf64>
// GENERIC:       %prod = "tc.prod"(%x) <{axes = array<i64: 0>, keepdims}> : (tensor<?x4xf64>) -> tensor<1x4xf64>
// GENERIC:       %mv = "tc.matmul"(%x, %v) : (tensor<?x4xf64>, tensor<4xf64>) -> tensor<?xf64>
// GENERIC:       %t = "tc.transpose"(%x) <{perm = array<i64: 1, 0>}> : (tensor<?x4xf64>) -> tensor<4x?xf64>
// GENERIC:       %r = "tc.reshape"(%x, %n) : (tensor<?x4xf64>, tensor<i64>) -> tensor<?xf64>
// GENERIC:       %s = "tc.slice"(%x, %n) <{starts = array<i64: -9223372036854775808, 0>, stops = array<i64: 4611686018427387904, 4>, steps = array<i64: 1, 2>}> : (tensor<?x4xf64>, tensor<i64>) -> tensor<?x2xf64>
// GENERIC:       %g = "tc.gather"(%x, %list) : (tensor<?x4xf64>, tensor<3xi64>) -> tensor<3x4xf64>
// GENERIC:       %c = "tc.concatenate"(%x, %b) <{axis = 0 : i64}> : (tensor<?x4xf64>, tensor<?x4xf64>) -> tensor<?x4xf64>
// GENERIC:       %d = "tc.dim"(%x) <{axis = 0 : i64}> : (tensor<?x4xf64>) -> tensor<i64>
// GENERIC:       %a = "tc.arange"(%n, %d, %n) : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>

// -----

func.func @gradient(%w: tensor<?xf64>, %u: tensor<3xf32>) -> (tensor<?xf64>, tensor<3xf32>) {
  %cost = tc.sum %w axes = array<i64: 0> : tensor<?xf64> -> tensor<f64>
  %gw, %gu = tc.grad %cost wrt %w, %u : tensor<f64>, tensor<?xf64>, tensor<3xf32> -> tensor<?xf64>, tensor<3xf32>
  func.return %gw, %gu : tensor<?xf64>, tensor<3xf32>
}

// CHECK-LABEL: func.func @gradient(%w: tensor<?xf64>, %u: tensor<3xf32>) -> (tensor<?xf64>, tensor<3xf32>) {
// CHECK-NEXT:    %cost = tc.sum %w axes = array<i64: 0> : tensor<?xf64> -> tensor<f64>
// CHECK-NEXT:    %gw, %gu = tc.grad %cost wrt %w, %u : tensor<f64>, tensor<?xf64>, tensor<3xf32> -> tensor<?xf64>, tensor<3xf32>
// CHECK-NEXT:    func.return %gw, %gu : tensor<?xf64>, tensor<3xf32>
// CHECK-NEXT:    }

// GENERIC-LABEL: "func.func"() <{sym_name = "gradient", function_type = (tensor<?xf64>, tensor<3xf32>) -> (tensor<?xf64>, tensor<3xf32>)}> ({
// GENERIC:       %gw, %gu = "tc.grad"(%cost, %w, %u) : (tensor<f64>, tensor<?xf64>, tensor<3xf32>) -> (tensor<?xf64>, tensor<3xf32>)

// -----

func.func @gradient_helpers(%x: tensor<?x4xf64>, %s: tensor<?x2xf64>, %n: tensor<i64>, %rows: tensor<3xi64>, %u: tensor<3x4xf64>) {
  %stop = tc.stop_gradient %x : tensor<?x4xf64>
  %zero = tc.stop_gradient %x connected : tensor<?x4xf64>
  %ins = tc.insert_slice %s into %x[%n] starts = array<i64: -9223372036854775808, 0> stops = array<i64: 4611686018427387904, 4> steps = array<i64: 1, 2> : tensor<?x2xf64>, tensor<?x4xf64>, tensor<i64>
  %sc = tc.scatter_add %u into %x[%rows] : tensor<3x4xf64>, tensor<?x4xf64>, tensor<3xi64>
  func.return
}

// CHECK-LABEL: func.func @gradient_helpers(%x: tensor<?x4xf64>, %s: tensor<?x2xf64>, %n: tensor<i64>, %rows: tensor<3xi64>, %u: tensor<3x4xf64>) {
// CHECK-NEXT:    %stop = tc.stop_gradient %x : tensor<?x4xf64>
// CHECK-NEXT:    %zero = tc.stop_gradient %x connected : tensor<?x4xf64>
// CHECK-NEXT:    %ins = tc.insert_slice %s into %x[%n] starts = array<i64: -9223372036854775808, 0> stops = array<i64: 4611686018427387904, 4> steps = array<i64: 1, 2> : tensor<?x2xf64>, tensor<?x4xf64>, tensor<i64>
// CHECK-NEXT:    %sc = tc.scatter_add %u into %x[%rows] : tensor<3x4xf64>, tensor<?x4xf64>, tensor<3xi64>
// CHECK-NEXT:    func.return

// GENERIC-LABEL: "func.func"() <{sym_name = "gradient_helpers"
// GENERIC:       %zero = "tc.stop_gradient"(%x) <{connected}> : (tensor<?x4xf64>) -> tensor<?x4xf64>
// GENERIC:       %ins = "tc.insert_slice"(%s, %x, %n) <{starts = array<i64: -9223372036854775808, 0>, stops = array<i64: 4611686018427387904, 4>, steps = array<i64: 1, 2>}> : (tensor<?x2xf64>, tensor<?x4xf64>, tensor<i64>) -> tensor<?x4xf64>
// GENERIC:       %sc = "tc.scatter_add"(%u, %x, %rows) : (tensor<3x4xf64>, tensor<?x4xf64>, tensor<3xi64>) -> tensor<?x4xf64>

// -----

// Patch extraction for convolutions and its adjoint (H dynamic: one dims operand).
func.func @windows(%x: tensor<?x3x?x8xf32>, %p: tensor<?x?x4x8x3x3xf64>, %h: tensor<i64>) {
  %cols = tc.im2col %x kernel = array<i64: 3, 2> strides = array<i64: 2, 1> dilations = array<i64: 1, 2> pads = array<i64: 0, 1, 1, 0> : tensor<?x3x?x8xf32> -> tensor<?x?x7x3x3x2xf32>
  %img = tc.col2im %p(%h) kernel = array<i64: 3, 3> strides = array<i64: 2, 2> dilations = array<i64: 1, 1> pads = array<i64: 1, 1, 1, 1> : tensor<?x?x4x8x3x3xf64>, tensor<i64> -> tensor<?x8x?x8xf64>
  func.return
}

// CHECK-LABEL: func.func @windows(%x: tensor<?x3x?x8xf32>, %p: tensor<?x?x4x8x3x3xf64>, %h: tensor<i64>) {
// CHECK-NEXT:    %cols = tc.im2col %x kernel = array<i64: 3, 2> strides = array<i64: 2, 1> dilations = array<i64: 1, 2> pads = array<i64: 0, 1, 1, 0> : tensor<?x3x?x8xf32> -> tensor<?x?x7x3x3x2xf32>
// CHECK-NEXT:    %img = tc.col2im %p(%h) kernel = array<i64: 3, 3> strides = array<i64: 2, 2> dilations = array<i64: 1, 1> pads = array<i64: 1, 1, 1, 1> : tensor<?x?x4x8x3x3xf64>, tensor<i64> -> tensor<?x8x?x8xf64>
// CHECK-NEXT:    func.return

// GENERIC-LABEL: "func.func"() <{sym_name = "windows"
// GENERIC:       %cols = "tc.im2col"(%x) <{kernel = array<i64: 3, 2>, strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, pads = array<i64: 0, 1, 1, 0>}> : (tensor<?x3x?x8xf32>) -> tensor<?x?x7x3x3x2xf32>
// GENERIC:       %img = "tc.col2im"(%p, %h) <{kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>}> : (tensor<?x?x4x8x3x3xf64>, tensor<i64>) -> tensor<?x8x?x8xf64>

// -----

func.func @composite(%x: tensor<?x4xf64>, %b: tensor<4xf64>, %m: tensor<?x1xi1>) -> (tensor<?x4xf64>, tensor<?x4xi1>) {
  %y, %p = tc.composite %x, %b, %m : (tensor<?x4xf64>, tensor<4xf64>, tensor<?x1xi1>) -> (tensor<?x4xf64>, tensor<?x4xi1>) attributes {expression = "add(i0, i1); select(i2, %0, 0.0); gt(%1, 0.0) -> %1, %2"} {
  ^bb0(%xi: f64, %bi: f64, %mi: i1):
    %s = arith.addf %xi, %bi : f64
    %zero = arith.constant 0.000000e+00 : f64
    %r = arith.select %mi, %s, %zero : f64
    %g = arith.cmpf ogt, %r, %zero : f64
    tc.yield %r, %g : f64, i1
  }
  func.return %y, %p : tensor<?x4xf64>, tensor<?x4xi1>
}

// CHECK-LABEL: func.func @composite(%x: tensor<?x4xf64>, %b: tensor<4xf64>, %m: tensor<?x1xi1>) -> (tensor<?x4xf64>, tensor<?x4xi1>) {
// CHECK-NEXT:    %y, %p = tc.composite %x, %b, %m : (tensor<?x4xf64>, tensor<4xf64>, tensor<?x1xi1>) -> (tensor<?x4xf64>, tensor<?x4xi1>) attributes {expression = "add(i0, i1); select(i2, %0, 0.0); gt(%1, 0.0) -> %1, %2"} {
// CHECK-NEXT:    ^bb0(%xi: f64, %bi: f64, %mi: i1):
// CHECK-NEXT:      %s = arith.addf %xi, %bi : f64
// CHECK-NEXT:      %zero = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      %r = arith.select %mi, %s, %zero : f64
// CHECK-NEXT:      %g = arith.cmpf ogt, %r, %zero : f64
// CHECK-NEXT:      tc.yield %r, %g : f64, i1
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %y, %p : tensor<?x4xf64>, tensor<?x4xi1>

// GENERIC-LABEL: "func.func"() <{sym_name = "composite"
// GENERIC:       %y, %p = "tc.composite"(%x, %b, %m) ({
// GENERIC-NEXT:  ^bb0(%xi: f64, %bi: f64, %mi: i1):
// GENERIC:         "tc.yield"(%r, %g) : (f64, i1) -> ()
// GENERIC-NEXT:  }) {expression = "add(i0, i1); select(i2, %0, 0.0); gt(%1, 0.0) -> %1, %2"} : (tensor<?x4xf64>, tensor<4xf64>, tensor<?x1xi1>) -> (tensor<?x4xf64>, tensor<?x4xi1>)

// A scan calls a private function per step; reverse runs the steps backwards.
func.func private @step(%x: tensor<3xf64>, %h: tensor<3xf64>, %w: tensor<3x3xf64>) -> (tensor<3xf64>, tensor<f64>) {
  %m = tc.matmul %w, %h : tensor<3x3xf64>, tensor<3xf64> -> tensor<3xf64>
  %a = tc.add %m, %x : tensor<3xf64>
  %s = tc.sum %a axes = array<i64: 0> : tensor<3xf64> -> tensor<f64>
  func.return %a, %s : tensor<3xf64>, tensor<f64>
}
func.func @scan(%x: tensor<?x3xf64>, %h0: tensor<3xf64>, %w: tensor<3x3xf64>, %n: tensor<i64>) -> (tensor<?x3xf64>, tensor<?xf64>) {
  %hs, %ys = tc.scan @step(%n) sequences(%x : tensor<?x3xf64>) inits(%h0 : tensor<3xf64>) params(%w : tensor<3x3xf64>) reverse -> tensor<?x3xf64>, tensor<?xf64>
  %h, %zs = tc.scan @step(%n) sequences(%x : tensor<?x3xf64>) inits(%h0 : tensor<3xf64>) params(%w : tensor<3x3xf64>) final_states -> tensor<3xf64>, tensor<?xf64>
  func.return %hs, %ys : tensor<?x3xf64>, tensor<?xf64>
}

// CHECK-LABEL: func.func @scan(
// CHECK-NEXT:    %hs, %ys = tc.scan @step(%n) sequences(%x : tensor<?x3xf64>) inits(%h0 : tensor<3xf64>) params(%w : tensor<3x3xf64>) reverse -> tensor<?x3xf64>, tensor<?xf64>
// CHECK-NEXT:    %h, %zs = tc.scan @step(%n) sequences(%x : tensor<?x3xf64>) inits(%h0 : tensor<3xf64>) params(%w : tensor<3x3xf64>) final_states -> tensor<3xf64>, tensor<?xf64>

// GENERIC-LABEL: "func.func"() <{sym_name = "scan"
// GENERIC:       %hs, %ys = "tc.scan"(%n, %x, %h0, %w) <{body = @step, reverse, operandSegmentSizes = array<i32: 1, 1, 1, 1>}> : (tensor<i64>, tensor<?x3xf64>, tensor<3xf64>, tensor<3x3xf64>) -> (tensor<?x3xf64>, tensor<?xf64>)
