// RUN: tensorc-opt %s -p tc-canonicalize | filecheck %s
// RUN: tensorc-opt %s -p tc-canonicalize,tc-canonicalize | filecheck %s

func.func @identities(%x: tensor<?x4xf64>, %n: tensor<i64>, %i: tensor<3xi32>) -> (tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<3xi32>) {
  %one = tc.constant dense<1.0> : tensor<f64>
  %zero = tc.constant dense<0.0> : tensor<f64>
  %ones = tc.broadcast %one(%n) : tensor<f64>, tensor<i64> -> tensor<?x4xf64>
  %zeros = tc.broadcast %zero(%n) : tensor<f64>, tensor<i64> -> tensor<?x4xf64>
  %a = tc.mul %x, %ones : tensor<?x4xf64>
  %b = tc.mul %ones, %a : tensor<?x4xf64>
  %c = tc.add %b, %zeros : tensor<?x4xf64>
  %d = tc.add %zeros, %c : tensor<?x4xf64>
  %e = tc.sub %d, %zeros : tensor<?x4xf64>
  %f = tc.div %e, %ones : tensor<?x4xf64>
  %g = tc.pow %f, %ones : tensor<?x4xf64>
  %ione = tc.constant dense<1> : tensor<3xi32>
  %h = tc.pow %i, %ione : tensor<3xi32>
  func.return %a, %b, %c, %d, %e, %f, %g, %h : tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<3xi32>
}

// CHECK-LABEL: func.func @identities(
// CHECK-NEXT:    func.return %x, %x, %x, %x, %x, %x, %x, %i :

func.func @not_identities(%x: tensor<?x4xf64>, %n: tensor<i64>) -> (tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<4xf64>) {
  %two = tc.constant dense<2.0> : tensor<f64>
  %twos = tc.broadcast %two(%n) : tensor<f64>, tensor<i64> -> tensor<?x4xf64>
  %zero = tc.constant dense<0.0> : tensor<f64>
  %zeros = tc.broadcast %zero(%n) : tensor<f64>, tensor<i64> -> tensor<?x4xf64>
  %one = tc.constant dense<1.0> : tensor<f64>
  %ones = tc.broadcast %one(%n) : tensor<f64>, tensor<i64> -> tensor<?x4xf64>
  %mixed = tc.constant dense<[0.0, 1.0, 0.0, 0.0]> : tensor<4xf64>
  %a = tc.mul %x, %twos : tensor<?x4xf64>
  %b = tc.sub %zeros, %a : tensor<?x4xf64>
  %c = tc.div %ones, %b : tensor<?x4xf64>
  %d = tc.pow %c, %twos : tensor<?x4xf64>
  %e = tc.add %d, %ones : tensor<?x4xf64>
  %v = tc.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf64>
  %f = tc.add %v, %mixed : tensor<4xf64>
  func.return %a, %b, %c, %d, %e, %f : tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xf64>, tensor<4xf64>
}

// CHECK-LABEL: func.func @not_identities(
// CHECK:         %a = tc.mul %x, %twos : tensor<?x4xf64>
// CHECK-NEXT:    %b = tc.sub %zeros, %a : tensor<?x4xf64>
// CHECK-NEXT:    %c = tc.div %ones, %b : tensor<?x4xf64>
// CHECK-NEXT:    %d = tc.mul %c, %c : tensor<?x4xf64>
// CHECK-NEXT:    %e = tc.add %d, %ones : tensor<?x4xf64>
// CHECK-NEXT:    %f = tc.constant dense<[1.000000e+00, 3.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf64>
// CHECK-NEXT:    func.return %a, %b, %c, %d, %e, %f :

func.func @structural_identities(%x: tensor<?x4xf64>, %y: tensor<1x4xf32>) -> (tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xi1>, tensor<i64>, tensor<i64>, tensor<1x4xf32>) {
  %n = tc.dim %x[0] : tensor<?x4xf64>
  %b = tc.broadcast %x(%n) : tensor<?x4xf64>, tensor<i64> -> tensor<?x4xf64>
  %c = tc.cast %b : tensor<?x4xf64> to tensor<?x4xf64>
  %neg = tc.neg %c : tensor<?x4xf64>
  %negneg = tc.neg %neg : tensor<?x4xf64>
  %m = tc.cast %c : tensor<?x4xf64> to tensor<?x4xi1>
  %four = tc.dim %x[1] : tensor<?x4xf64>
  %s = tc.broadcast %y() : tensor<1x4xf32>, -> tensor<1x4xf32>
  func.return %neg, %negneg, %m, %n, %four, %s : tensor<?x4xf64>, tensor<?x4xf64>, tensor<?x4xi1>, tensor<i64>, tensor<i64>, tensor<1x4xf32>
}

// CHECK-LABEL: func.func @structural_identities(
// CHECK-NEXT:    %n = tc.dim %x[0] : tensor<?x4xf64>
// CHECK-NEXT:    %neg = tc.neg %x : tensor<?x4xf64>
// CHECK-NEXT:    %m = tc.cast %x : tensor<?x4xf64> to tensor<?x4xi1>
// CHECK-NEXT:    %four = tc.constant dense<4> : tensor<i64>
// CHECK-NEXT:    func.return %neg, %x, %m, %n, %four, %y :

func.func @fold_constants() -> (tensor<2x2xf64>, tensor<3xi32>, tensor<f64>, tensor<2xi1>, tensor<i64>, tensor<2xf64>, tensor<2000x2000xf32>, tensor<3xi64>) {
  %m = tc.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf64>
  %t = tc.transpose %m perm = array<i64: 1, 0> : tensor<2x2xf64> -> tensor<2x2xf64>
  %mm = tc.matmul %m, %t : tensor<2x2xf64>, tensor<2x2xf64> -> tensor<2x2xf64>
  %i = tc.constant dense<[7, -7, 5]> : tensor<3xi32>
  %z = tc.constant dense<[2, 2, 0]> : tensor<3xi32>
  %q = tc.floordiv %i, %z : tensor<3xi32>
  %s = tc.sum %m axes = array<i64: 0, 1> : tensor<2x2xf64> -> tensor<f64>
  %l = tc.log %s : tensor<f64>
  %v = tc.constant dense<[1.0, -1.0]> : tensor<2xf64>
  %zero = tc.constant dense<0.0> : tensor<2xf64>
  %lt = tc.lt %v, %zero : tensor<2xf64> -> tensor<2xi1>
  %d = tc.dim %m[1] : tensor<2x2xf64>
  %nan = tc.log %v : tensor<2xf64>
  %c = tc.constant dense<2.0> : tensor<f32>
  %big = tc.broadcast %c() : tensor<f32>, -> tensor<2000x2000xf32>
  %bigexp = tc.exp %big : tensor<2000x2000xf32>
  %r = tc.constant dense<[3, 1, 2]> : tensor<3xi64>
  %sq = tc.mul %r, %r : tensor<3xi64>
  func.return %mm, %q, %l, %lt, %d, %nan, %bigexp, %sq : tensor<2x2xf64>, tensor<3xi32>, tensor<f64>, tensor<2xi1>, tensor<i64>, tensor<2xf64>, tensor<2000x2000xf32>, tensor<3xi64>
}

// CHECK-LABEL: func.func @fold_constants(
// CHECK-NEXT:    %mm = tc.constant dense<{{\[\[}}5.000000e+00, 1.100000e+01], [1.100000e+01, 2.500000e+01]]> : tensor<2x2xf64>
// CHECK-NEXT:    %q = tc.constant dense<[3, -4, 0]> : tensor<3xi32>
// CHECK-NEXT:    %l = tc.constant dense<2.3025850929940459> : tensor<f64>
// CHECK-NEXT:    %lt = tc.constant dense<[false, true]> : tensor<2xi1>
// CHECK-NEXT:    %d = tc.constant dense<2> : tensor<i64>
// CHECK-NEXT:    %nan = tc.constant dense<"0x0000000000000000000000000000F8FF"> : tensor<2xf64>
// CHECK-NEXT:    %bigexp = tc.constant dense<7.38905{{[0-9]+}}> : tensor<2000x2000xf32>
// CHECK-NEXT:    %sq = tc.constant dense<[9, 1, 4]> : tensor<3xi64>
// CHECK-NEXT:    func.return %mm, %q, %l, %lt, %d, %nan, %bigexp, %sq :

func.func @no_fold(%n: tensor<i64>) -> (tensor<2048xf64>, tensor<2xf64>, tensor<?xf64>, tensor<?xi64>) {
  %c = tc.constant dense<[1.0, 2.0]> : tensor<2xf64>
  %big = tc.broadcast %c() : tensor<2xf64>, -> tensor<1024x2xf64>
  %flat = tc.reshape %big() : tensor<1024x2xf64>, -> tensor<2048xf64>
  %idx = tc.constant dense<[0, 5]> : tensor<2xi64>
  %g = tc.gather %c[%idx] : tensor<2xf64>, tensor<2xi64> -> tensor<2xf64>
  %dyn = tc.broadcast %c(%n) : tensor<2xf64>, tensor<i64> -> tensor<?xf64>
  %zero = tc.constant dense<0> : tensor<i64>
  %one = tc.constant dense<1> : tensor<i64>
  %three = tc.constant dense<3> : tensor<i64>
  %range = tc.arange %zero, %three, %one : tensor<i64> -> tensor<?xi64>
  func.return %flat, %g, %dyn, %range : tensor<2048xf64>, tensor<2xf64>, tensor<?xf64>, tensor<?xi64>
}

// CHECK-LABEL: func.func @no_fold(
// CHECK:         %big = tc.broadcast %c() : tensor<2xf64>, -> tensor<1024x2xf64>
// CHECK-NEXT:    %flat = tc.reshape %big() : tensor<1024x2xf64>, -> tensor<2048xf64>
// CHECK:         %g = tc.gather %c[%idx] : tensor<2xf64>, tensor<2xi64> -> tensor<2xf64>
// CHECK-NEXT:    %dyn = tc.broadcast %c(%n) : tensor<2xf64>, tensor<i64> -> tensor<?xf64>
// CHECK:         %range = tc.arange %zero, %three, %one : tensor<i64> -> tensor<?xi64>

// The simplifications gradient code needs: splat folding through broadcasts,
// squares, negations and constant scale factors.
func.func @gradient_simplifications(%x: tensor<?xf64>, %n: tensor<i64>) -> (tensor<?xf64>, tensor<?xf64>, tensor<?xf64>, tensor<?xf64>, tensor<?xf64>, tensor<?xf64>) {
  %one = tc.constant dense<1.0> : tensor<f64>
  %two = tc.constant dense<2.0> : tensor<f64>
  %ones = tc.broadcast %one(%n) : tensor<f64>, tensor<i64> -> tensor<?xf64>
  %twos = tc.broadcast %two(%n) : tensor<f64>, tensor<i64> -> tensor<?xf64>
  %exponent = tc.sub %twos, %ones : tensor<?xf64>
  %a = tc.pow %x, %exponent : tensor<?xf64>
  %scaled = tc.mul %twos, %a : tensor<?xf64>
  %b = tc.mul %scaled, %twos : tensor<?xf64>
  %c = tc.pow %x, %twos : tensor<?xf64>
  %neg = tc.neg %x : tensor<?xf64>
  %d = tc.mul %neg, %neg : tensor<?xf64>
  %minus_one = tc.neg %ones : tensor<?xf64>
  %e = tc.mul %minus_one, %neg : tensor<?xf64>
  %p = tc.mul %twos, %neg : tensor<?xf64>
  %f = tc.neg %p : tensor<?xf64>
  func.return %a, %b, %c, %d, %e, %f : tensor<?xf64>, tensor<?xf64>, tensor<?xf64>, tensor<?xf64>, tensor<?xf64>, tensor<?xf64>
}

// CHECK-LABEL: func.func @gradient_simplifications(
// CHECK-NEXT:    %two = tc.constant dense<2.000000e+00> : tensor<f64>
// CHECK-NEXT:    %twos = tc.broadcast %two(%n) : tensor<f64>, tensor<i64> -> tensor<?xf64>
// CHECK-NEXT:    %[[FOUR:[a-z0-9_]+]] = tc.constant dense<4.000000e+00> : tensor<f64>
// CHECK-NEXT:    %[[FOURS:[a-z0-9_]+]] = tc.broadcast %[[FOUR]](%n) : tensor<f64>, tensor<i64> -> tensor<?xf64>
// CHECK-NEXT:    %[[B:[a-z0-9_]+]] = tc.mul %[[FOURS]], %x : tensor<?xf64>
// CHECK-NEXT:    %c = tc.mul %x, %x : tensor<?xf64>
// CHECK-NEXT:    %d = tc.mul %x, %x : tensor<?xf64>
// CHECK-NEXT:    %f = tc.mul %twos, %x : tensor<?xf64>
// CHECK-NEXT:    func.return %x, %[[B]], %c, %d, %x, %f :

// A dim of an elementwise result is the dim of its operand (the result can die).
func.func @dim_of_elementwise(%x: tensor<?x4xf64>) -> tensor<i64> {
  %e = tc.exp %x : tensor<?x4xf64>
  %n = tc.dim %e[0] : tensor<?x4xf64>
  func.return %n : tensor<i64>
}

// CHECK-LABEL: func.func @dim_of_elementwise(
// CHECK-NEXT:    %n = tc.dim %x[0] : tensor<?x4xf64>
// CHECK-NEXT:    func.return %n :
