// RUN: tensorc-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Each chunk breaks one rule of a tc verifier; the diagnostic must name it.

func.func @f(%x: tensor<3xi32>) {
  %0 = tc.exp %x : tensor<3xi32> loc("model.py":12:3)
  func.return
}

// CHECK: {{^}}'tc.exp': operand must have float elements, got tensor<3xi32> (created at model.py:12)

// -----

func.func @f(%x: tensor<3xf32>) {
  %0 = tc.not %x : tensor<3xf32>
  func.return
}

// CHECK: {{^}}'tc.not': operand must have integer or bool elements, got tensor<3xf32>

// -----

func.func @f(%x: tensor<3xf32>, %y: tensor<3xf64>) {
  %0 = "tc.add"(%x, %y) : (tensor<3xf32>, tensor<3xf64>) -> tensor<3xf32>
  func.return
}

// CHECK: {{^}}operand 'rhs' at position 1 does not verify:
// CHECK-NEXT: {{^}}attribute tensor<3xf32> expected from variable 'T', but got tensor<3xf64>

// -----

func.func @f(%x: tensor<3xf32>, %y: tensor<?xf32>) {
  %0 = "tc.mul"(%x, %y) : (tensor<3xf32>, tensor<?xf32>) -> tensor<3xf32>
  func.return
}

// CHECK: {{^}}operand 'rhs' at position 1 does not verify:
// CHECK-NEXT: {{^}}attribute tensor<3xf32> expected from variable 'T', but got tensor<?xf32>

// -----

func.func @f(%x: tensor<3xi64>) {
  %0 = tc.div %x, %x : tensor<3xi64>
  func.return
}

// CHECK: {{^}}'tc.div': lhs must have float elements, got tensor<3xi64>

// -----

func.func @f(%x: tensor<3xi1>) {
  %0 = tc.add %x, %x : tensor<3xi1>
  func.return
}

// CHECK: {{^}}'tc.add': lhs must have float or integer elements, got tensor<3xi1>

// -----

func.func @f(%x: tensor<3xf64>) {
  %0 = tc.xor %x, %x : tensor<3xf64>
  func.return
}

// CHECK: {{^}}'tc.xor': lhs must have integer or bool elements, got tensor<3xf64>

// -----

func.func @f(%x: tensor<3xf64>) {
  %0 = tc.lt %x, %x : tensor<3xf64> -> tensor<3xf64>
  func.return
}

// CHECK: {{^}}'tc.lt': result must be tensor<3xi1>, got tensor<3xf64>

// -----

func.func @f(%m: tensor<4xi1>, %x: tensor<3xf64>) {
  %0 = tc.select %m, %x, %x : tensor<4xi1>, tensor<3xf64>
  func.return
}

// CHECK: {{^}}'tc.select': condition must be tensor<3xi1>, got tensor<4xi1>

// -----

func.func @f(%x: tensor<3xf64>) {
  %0 = tc.cast %x : tensor<3xf64> to tensor<4xi32>
  func.return
}

// CHECK: {{^}}'tc.cast': cast must keep the shape: tensor<3xf64> to tensor<4xi32>

// -----

func.func @f() {
  %0 = "tc.constant"() <{value = dense<1.0> : tensor<3xf64>}> : () -> tensor<?xf64>
  func.return
}

// CHECK: {{^}}'tc.constant': constant type must be static, got tensor<?xf64>

// -----

func.func @f(%x: tensor<3xf64>) {
  %0 = tc.broadcast %x() : tensor<3xf64>, -> tensor<2x3xf32>
  func.return
}

// CHECK: {{^}}'tc.broadcast': element types differ: tensor<3xf64> vs tensor<2x3xf32>

// -----

func.func @f(%x: tensor<2x3xf64>) {
  %0 = tc.broadcast %x() : tensor<2x3xf64>, -> tensor<3xf64>
  func.return
}

// CHECK: {{^}}'tc.broadcast': cannot broadcast tensor<2x3xf64> to lower rank tensor<3xf64>

// -----

func.func @f(%x: tensor<3xf64>) {
  %0 = tc.broadcast %x() : tensor<3xf64>, -> tensor<2x4xf64>
  func.return
}

// CHECK: {{^}}'tc.broadcast': input dim 0 (3) cannot broadcast to 4

// -----

func.func @f(%x: tensor<3xf64>) {
  %0 = tc.broadcast %x() : tensor<3xf64>, -> tensor<?x3xf64>
  func.return
}

// CHECK: {{^}}'tc.broadcast': expected 1 dims operands, got 0

// -----

func.func @f(%x: tensor<3xf64>, %n: tensor<2xi64>) {
  %0 = tc.broadcast %x(%n) : tensor<3xf64>, tensor<2xi64> -> tensor<?x3xf64>
  func.return
}

// CHECK: {{^}}'tc.broadcast': dims #0 must be a 0-d integer tensor, got tensor<2xi64>

// -----

func.func @f(%x: tensor<3xf64>, %n: tensor<f64>) {
  %0 = tc.reshape %x(%n) : tensor<3xf64>, tensor<f64> -> tensor<?xf64>
  func.return
}

// CHECK: {{^}}'tc.reshape': dims #0 must be a 0-d integer tensor, got tensor<f64>

// -----

func.func @f(%x: tensor<?x4xf64>) {
  %0 = tc.sum %x axes = array<i64: 1, 0> : tensor<?x4xf64> -> tensor<f64>
  func.return
}

// CHECK: {{^}}'tc.sum': axes [1, 0] must be sorted, unique and in [0, 2)

// -----

func.func @f(%x: tensor<?x4xf64>) {
  %0 = tc.max %x axes = array<i64: 2> : tensor<?x4xf64> -> tensor<?x4xf64>
  func.return
}

// CHECK: {{^}}'tc.max': axes [2] must be sorted, unique and in [0, 2)

// -----

func.func @f(%x: tensor<?x4xf64>) {
  %0 = tc.sum %x axes = array<i64: 1> keepdims : tensor<?x4xf64> -> tensor<?xf64>
  func.return
}

// CHECK: {{^}}'tc.sum': result type must be tensor<?x1xf64>, got tensor<?xf64>

// -----

func.func @f(%x: tensor<?x4xf64>) {
  %0 = tc.argmax %x axes = array<i64: 1> : tensor<?x4xf64> -> tensor<?xf64>
  func.return
}

// CHECK: {{^}}'tc.argmax': result type must be tensor<?xi64>, got tensor<?xf64>

// -----

func.func @f(%x: tensor<?x4xf64>, %y: tensor<4xf32>) {
  %0 = tc.matmul %x, %y : tensor<?x4xf64>, tensor<4xf32> -> tensor<?xf64>
  func.return
}

// CHECK: {{^}}'tc.matmul': element types must match: tensor<?x4xf64>, tensor<4xf32> -> tensor<?xf64>

// -----

func.func @f(%x: tensor<2x3x4xf64>, %y: tensor<4xf64>) {
  %0 = tc.matmul %x, %y : tensor<2x3x4xf64>, tensor<4xf64> -> tensor<2x3xf64>
  func.return
}

// CHECK: {{^}}'tc.matmul': operands must be 1-D or 2-D, got tensor<2x3x4xf64> and tensor<4xf64>

// -----

func.func @f(%x: tensor<?x4xf64>, %y: tensor<5xf64>) {
  %0 = tc.matmul %x, %y : tensor<?x4xf64>, tensor<5xf64> -> tensor<?xf64>
  func.return
}

// CHECK: {{^}}'tc.matmul': inner dims differ: lhs tensor<?x4xf64> rhs tensor<5xf64>

// -----

func.func @f(%x: tensor<?x4xf64>, %y: tensor<4x2xf64>) {
  %0 = tc.matmul %x, %y : tensor<?x4xf64>, tensor<4x2xf64> -> tensor<?x3xf64>
  func.return
}

// CHECK: {{^}}'tc.matmul': result must be tensor<?x2xf64>, got tensor<?x3xf64>

// -----

func.func @f(%x: tensor<?x4xf64>) {
  %0 = tc.transpose %x perm = array<i64: 1, 1> : tensor<?x4xf64> -> tensor<4x4xf64>
  func.return
}

// CHECK: {{^}}'tc.transpose': perm [1, 1] is not a permutation of 2 dims

// -----

func.func @f(%x: tensor<?x4xf64>) {
  %0 = tc.transpose %x perm = array<i64: 1, 0> : tensor<?x4xf64> -> tensor<?x4xf64>
  func.return
}

// CHECK: {{^}}'tc.transpose': result type must be tensor<4x?xf64>, got tensor<?x4xf64>

// -----

func.func @f(%x: tensor<?x4xf64>) {
  %0 = tc.reshape %x() : tensor<?x4xf64>, -> tensor<?xf64>
  func.return
}

// CHECK: {{^}}'tc.reshape': expected 1 dims operands, got 0

// -----

func.func @f(%x: tensor<3x4xf64>) {
  %0 = tc.reshape %x() : tensor<3x4xf64>, -> tensor<5x2xf64>
  func.return
}

// CHECK: {{^}}'tc.reshape': cannot reshape tensor<3x4xf64> to tensor<5x2xf64>

// -----

func.func @f(%x: tensor<3x4xf64>) {
  %0 = tc.reshape %x() : tensor<3x4xf64>, -> tensor<12xf32>
  func.return
}

// CHECK: {{^}}'tc.reshape': element types differ: tensor<3x4xf64> vs tensor<12xf32>

// -----

func.func @f(%x: tensor<?x4xf64>) {
  %0 = tc.slice %x[] starts = array<i64: 0> stops = array<i64: 1> steps = array<i64: 1> : tensor<?x4xf64>, -> tensor<?x4xf64>
  func.return
}

// CHECK: {{^}}'tc.slice': starts/stops/steps must each have 2 entries

// -----

func.func @f(%x: tensor<?xf64>) {
  %0 = tc.slice %x[] starts = array<i64: 0> stops = array<i64: 1> steps = array<i64: 0> : tensor<?xf64>, -> tensor<?xf64>
  func.return
}

// CHECK: {{^}}'tc.slice': slice step cannot be zero

// -----

func.func @f(%x: tensor<?xf64>) {
  %0 = tc.slice %x[] starts = array<i64: -9223372036854775808> stops = array<i64: 1> steps = array<i64: 1> : tensor<?xf64>, -> tensor<?xf64>
  func.return
}

// CHECK: {{^}}'tc.slice': expected 1 bounds operands, got 0

// -----

func.func @f(%x: tensor<?xf64>, %b: tensor<f32>) {
  %0 = tc.slice %x[%b] starts = array<i64: -9223372036854775808> stops = array<i64: 1> steps = array<i64: 1> : tensor<?xf64>, tensor<f32> -> tensor<?xf64>
  func.return
}

// CHECK: {{^}}'tc.slice': bounds #0 must be a 0-d integer tensor, got tensor<f32>

// -----

func.func @f(%x: tensor<?xf64>) {
  %0 = tc.slice %x[] starts = array<i64: 0> stops = array<i64: 1> steps = array<i64: 1> : tensor<?xf64>, -> tensor<?x1xf64>
  func.return
}

// CHECK: {{^}}'tc.slice': result must be a rank-1 tensor of f64

// -----

func.func @f(%x: tensor<?xf64>, %i: tensor<3xi64>) {
  %0 = tc.gather %x[%i, %i] : tensor<?xf64>, tensor<3xi64>, tensor<3xi64> -> tensor<3xf64>
  func.return
}

// CHECK: {{^}}'tc.gather': needs 1 to 1 index tensors, got 2

// -----

func.func @f(%x: tensor<?xf64>, %i: tensor<3xf64>) {
  %0 = tc.gather %x[%i] : tensor<?xf64>, tensor<3xf64> -> tensor<3xf64>
  func.return
}

// CHECK: {{^}}'tc.gather': index #0 must have integer elements, got tensor<3xf64>

// -----

func.func @f(%x: tensor<?x?xf64>, %i: tensor<3xi64>, %j: tensor<3xi32>) {
  %0 = tc.gather %x[%i, %j] : tensor<?x?xf64>, tensor<3xi64>, tensor<3xi32> -> tensor<3xf64>
  func.return
}

// CHECK: {{^}}'tc.gather': index tensors must share one type: tensor<3xi64> vs tensor<3xi32>

// -----

func.func @f(%x: tensor<?x5xf64>, %i: tensor<3xi64>) {
  %0 = tc.gather %x[%i] : tensor<?x5xf64>, tensor<3xi64> -> tensor<3xf64>
  func.return
}

// CHECK: {{^}}'tc.gather': result must be tensor<3x5xf64>, got tensor<3xf64>

// -----

func.func @f() {
  %0 = "tc.concatenate"() <{axis = 0 : i64}> : () -> tensor<?xf64>
  func.return
}

// CHECK: {{^}}'tc.concatenate': needs at least one input

// -----

func.func @f(%x: tensor<?x4xf64>, %y: tensor<?x4xf32>) {
  %0 = tc.concatenate %x, %y axis(0) : tensor<?x4xf64>, tensor<?x4xf32> -> tensor<?x4xf64>
  func.return
}

// CHECK: {{^}}'tc.concatenate': input #1 tensor<?x4xf32> does not match result tensor<?x4xf64>

// -----

func.func @f(%x: tensor<?x4xf64>, %y: tensor<?x3xf64>) {
  %0 = tc.concatenate %x, %y axis(0) : tensor<?x4xf64>, tensor<?x3xf64> -> tensor<?x4xf64>
  func.return
}

// CHECK: {{^}}'tc.concatenate': input #1 dim 1 is 3, result has 4

// -----

func.func @f(%x: tensor<?x4xf64>) {
  %0 = tc.concatenate %x, %x axis(2) : tensor<?x4xf64>, tensor<?x4xf64> -> tensor<?x4xf64>
  func.return
}

// CHECK: {{^}}'tc.concatenate': axis 2 out of range for tensor<?x4xf64>

// -----

func.func @f(%x: tensor<?x4xf64>) {
  %0 = tc.dim %x[2] : tensor<?x4xf64>
  func.return
}

// CHECK: {{^}}'tc.dim': axis 2 out of range for tensor<?x4xf64>

// -----

func.func @f(%n: tensor<2xi64>) {
  %0 = tc.arange %n, %n, %n : tensor<2xi64> -> tensor<?xi64>
  func.return
}

// CHECK: {{^}}'tc.arange': expects 0-d operands and a 1-D result, got tensor<2xi64> -> tensor<?xi64>

// -----

func.func @f(%n: tensor<i64>) {
  %0 = tc.arange %n, %n, %n : tensor<i64> -> tensor<?xi32>
  func.return
}

// CHECK: {{^}}'tc.arange': result element type must be i64

// -----

func.func @f(%c: tensor<3xf64>, %w: tensor<3xf64>) {
  %0 = tc.grad %c wrt %w : tensor<3xf64>, tensor<3xf64> -> tensor<3xf64>
  func.return
}

// CHECK: {{^}}'tc.grad': cost must be a 0-d float tensor, got tensor<3xf64>

// -----

func.func @f(%c: tensor<f64>, %w: tensor<3xf64>) {
  %0 = tc.grad %c wrt %w : tensor<f64>, tensor<3xf64> -> tensor<4xf64>
  func.return
}

// CHECK: {{^}}'tc.grad': each result must have the type of its wrt operand

// -----

func.func @f(%c: tensor<f64>, %w: tensor<3xi32>) {
  %0 = tc.grad %c wrt %w : tensor<f64>, tensor<3xi32> -> tensor<3xi32>
  func.return
}

// CHECK: {{^}}'tc.grad': wrt #0 must have float elements, got tensor<3xi32>

// -----

func.func @f(%x: tensor<?x5xf64>, %i: tensor<3xi64>) {
  %0 = tc.gather %x[%i] : tensor<?x5xf64>, tensor<3xi64> -> tensor<4x5xf64>
  func.return
}

// CHECK: {{^}}'tc.gather': result must be tensor<3x5xf64>, got tensor<4x5xf64>

// -----

func.func @f(%x: tensor<?x3xf64>, %y: tensor<4xf64>) {
  %0 = tc.composite %x, %y : (tensor<?x3xf64>, tensor<4xf64>) -> tensor<?x3xf64> {
  ^bb0(%a: f64, %b: f64):
    %s = arith.addf %a, %b : f64
    tc.yield %s : f64
  }
  func.return
}

// CHECK: {{^}}'tc.composite': input #1 tensor<4xf64> does not broadcast to tensor<?x3xf64> (dim 1)

// -----

func.func @f(%x: tensor<?x3xf64>) {
  %0, %1 = tc.composite %x : (tensor<?x3xf64>) -> (tensor<?x3xf64>, tensor<3xf64>) {
  ^bb0(%a: f64):
    tc.yield %a, %a : f64, f64
  }
  func.return
}

// CHECK: {{^}}'tc.composite': outputs must share one shape: output #1 is tensor<3xf64>, output #0 is tensor<?x3xf64>

// -----

func.func @f(%x: tensor<1x3xf64>) {
  %0 = tc.composite %x : (tensor<1x3xf64>) -> tensor<?x3xf64> {
  ^bb0(%a: f64):
    tc.yield %a : f64
  }
  func.return
}

// CHECK: {{^}}'tc.composite': dynamic output dim 0 is not set by any input (every input stretches there)

// -----

func.func @f(%x: tensor<3xf64>) {
  %0 = tc.composite %x : (tensor<3xf64>) -> tensor<3xf64> {
  ^bb0(%a: f32):
    tc.yield %a : f32
  }
  func.return
}

// CHECK: {{^}}'tc.composite': body arguments must be the input element types (f64), got (f32)

// -----

func.func @f(%x: tensor<3xf64>) {
  %0 = tc.composite %x : (tensor<3xf64>) -> tensor<3xi1> {
  ^bb0(%a: f64):
    tc.yield %a : f64
  }
  func.return
}

// CHECK: {{^}}'tc.composite': tc.yield types (f64) must be the output element types (i1)

// -----

func.func @f(%x: tensor<3xf64>) {
  %0 = tc.composite %x : (tensor<3xf64>) -> tensor<3xf64> {
  ^bb0(%a: f64):
    %t = "test.op"(%a) : (f64) -> f64
    tc.yield %t : f64
  }
  func.return
}

// CHECK: {{^}}'tc.composite': body may hold only arith/math ops, found test.op

// -----

func.func @f(%x: tensor<3xf64>, %y: f64) {
  %0 = tc.composite %x : (tensor<3xf64>) -> tensor<3xf64> {
  ^bb0(%a: f64):
    %s = arith.addf %a, %y : f64
    tc.yield %s : f64
  }
  func.return
}

// CHECK: {{^}}Operation using value defined out of its IsolatedFromAbove parent: AddfOp(%s = arith.addf %a, %y : f64)
