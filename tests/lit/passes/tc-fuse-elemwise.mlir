// RUN: tensorc-opt %s --split-input-file -p tc-fuse-elemwise | filecheck %s
// RUN: tensorc-opt %s --split-input-file -p tc-fuse-elemwise,tc-fuse-elemwise | filecheck %s
// RUN: tensorc-opt %s --split-input-file -p 'tc-fuse-elemwise{max-inputs=2}' | filecheck %s --check-prefix=LIMIT
// RUN: tensorc-opt %s --split-input-file -p tc-fuse-elemwise --print-debuginfo | filecheck %s --check-prefix=LOC

// W1: exp(-x**2) * sin(3*x) + 0.5 * tanh(x), as the frontend traces it. One
// composite; the splat constants and their broadcasts move into the body.

func.func @w1(%x: tensor<?xf64>) -> tensor<?xf64> {
  %0 = tc.mul %x, %x : tensor<?xf64> loc("w1.py":3:0)
  %1 = tc.neg %0 : tensor<?xf64> loc("w1.py":3:0)
  %2 = tc.exp %1 : tensor<?xf64> loc("w1.py":3:0)
  %3 = tc.constant dense<3.000000e+00> : tensor<f64>
  %4 = tc.dim %x[0] : tensor<?xf64>
  %5 = tc.broadcast %3(%4) : tensor<f64>, tensor<i64> -> tensor<?xf64>
  %6 = tc.mul %5, %x : tensor<?xf64> loc("w1.py":4:0)
  %7 = tc.sin %6 : tensor<?xf64> loc("w1.py":4:0)
  %8 = tc.mul %2, %7 : tensor<?xf64> loc("w1.py":5:0)
  %9 = tc.constant dense<5.000000e-01> : tensor<f64>
  %10 = tc.tanh %x : tensor<?xf64> loc("w1.py":6:0)
  %11 = tc.broadcast %9(%4) : tensor<f64>, tensor<i64> -> tensor<?xf64>
  %12 = tc.mul %11, %10 : tensor<?xf64> loc("w1.py":6:0)
  %13 = tc.add %8, %12 : tensor<?xf64> loc("w1.py":7:0)
  func.return %13 : tensor<?xf64>
}

// CHECK-LABEL: func.func @w1(%x: tensor<?xf64>) -> tensor<?xf64> {
// CHECK-NEXT:    %0 = tc.composite %x : (tensor<?xf64>) -> tensor<?xf64> attributes {expression = "mul(i0, i0); neg(%0); exp(%1); mul(3.0, i0); sin(%3); mul(%2, %4); tanh(i0); mul(0.5, %6); add(%5, %7) -> %8"} {
// CHECK-NEXT:    ^bb0(%[[X:.*]]: f64):
// CHECK-NEXT:      %[[THREE:.*]] = arith.constant 3.000000e+00 : f64
// CHECK-NEXT:      %[[HALF:.*]] = arith.constant 5.000000e-01 : f64
// CHECK-NEXT:      %[[SQ:.*]] = arith.mulf %[[X]], %[[X]] : f64
// CHECK-NEXT:      %[[NEG:.*]] = arith.negf %[[SQ]] : f64
// CHECK-NEXT:      %[[EXP:.*]] = math.exp %[[NEG]] : f64
// CHECK-NEXT:      %[[X3:.*]] = arith.mulf %[[THREE]], %[[X]] : f64
// CHECK-NEXT:      %[[SIN:.*]] = math.sin %[[X3]] : f64
// CHECK-NEXT:      %[[L:.*]] = arith.mulf %[[EXP]], %[[SIN]] : f64
// CHECK-NEXT:      %[[TANH:.*]] = math.tanh %[[X]] : f64
// CHECK-NEXT:      %[[R:.*]] = arith.mulf %[[HALF]], %[[TANH]] : f64
// CHECK-NEXT:      %[[SUM:.*]] = arith.addf %[[L]], %[[R]] : f64
// CHECK-NEXT:      tc.yield %[[SUM]] : f64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %0 : tensor<?xf64>

// The fused op keeps every absorbed line; each body op names its tc op and line.
// LOC-LABEL: func.func @w1(
// LOC:         math.exp %{{.*}} : f64 loc("tc.exp"("w1.py":3:0))
// LOC:         math.tanh %{{.*}} : f64 loc("tc.tanh"("w1.py":6:0))
// LOC:         } loc(fused["w1.py":3:0, "w1.py":4:0, "w1.py":5:0, "w1.py":6:0, "w1.py":7:0])

// -----

// An MLP layer: the bias broadcast becomes an index map (input of rank 1), its
// size check implied by the product's dims.

func.func @layer(%x: tensor<?x?xf64>, %w: tensor<?x?xf64>, %b: tensor<?xf64>) -> tensor<?x?xf64> {
  %0 = tc.matmul %x, %w : tensor<?x?xf64>, tensor<?x?xf64> -> tensor<?x?xf64>
  %1 = tc.dim %0[0] : tensor<?x?xf64>
  %2 = tc.dim %0[1] : tensor<?x?xf64>
  %3 = tc.broadcast %b(%1, %2) : tensor<?xf64>, tensor<i64>, tensor<i64> -> tensor<?x?xf64>
  %4 = tc.add %0, %3 : tensor<?x?xf64>
  %5 = tc.tanh %4 : tensor<?x?xf64>
  func.return %5 : tensor<?x?xf64>
}

// CHECK-LABEL: func.func @layer(
// CHECK-NEXT:    %0 = tc.matmul %x, %w
// CHECK-NEXT:    %1 = tc.composite %0, %b : (tensor<?x?xf64>, tensor<?xf64>) -> tensor<?x?xf64> attributes {expression = "add(i0, i1); tanh(%0) -> %1"} {
// CHECK-NEXT:    ^bb0(%{{.*}}: f64, %{{.*}}: f64):
// CHECK-NEXT:      arith.addf
// CHECK-NEXT:      math.tanh
// CHECK-NEXT:      tc.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %1 : tensor<?x?xf64>

// -----

// Convexity: b depends on a through a reduction, so a and b are two composites
// (the sum lies between them); a also has two users.

func.func @convex(%x: tensor<?xf64>) -> tensor<?xf64> {
  %e = tc.exp %x : tensor<?xf64>
  %a = tc.add %e, %x : tensor<?xf64>
  %s = tc.sum %a axes = array<i64: 0> : tensor<?xf64> -> tensor<f64>
  %n = tc.dim %x[0] : tensor<?xf64>
  %sb = tc.broadcast %s(%n) : tensor<f64>, tensor<i64> -> tensor<?xf64>
  %d = tc.div %a, %sb : tensor<?xf64>
  %t = tc.tanh %d : tensor<?xf64>
  func.return %t : tensor<?xf64>
}

// CHECK-LABEL: func.func @convex(
// CHECK-NEXT:    %[[A:.*]] = tc.composite %x : (tensor<?xf64>) -> tensor<?xf64> attributes {expression = "exp(i0); add(%0, i0) -> %1"}
// CHECK:         %[[S:.*]] = tc.sum %[[A]] axes = array<i64: 0>
// CHECK-NEXT:    %{{.*}} = tc.composite %[[A]], %[[S]] : (tensor<?xf64>, tensor<f64>) -> tensor<?xf64> attributes {expression = "div(i0, i1); tanh(%0) -> %1"}
// CHECK-NOT:     tc.broadcast

// -----

// Several results of one cluster are used outside it: one composite, several
// outputs, each with its own users.

func.func @outputs(%x: tensor<3xf32>, %y: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xi1>, tensor<f32>) {
  %a = tc.mul %x, %y : tensor<3xf32>
  %b = tc.exp %a : tensor<3xf32>
  %c = tc.gt %b, %x : tensor<3xf32> -> tensor<3xi1>
  %s = tc.sum %a axes = array<i64: 0> : tensor<3xf32> -> tensor<f32>
  func.return %b, %c, %s : tensor<3xf32>, tensor<3xi1>, tensor<f32>
}

// CHECK-LABEL: func.func @outputs(
// CHECK-NEXT:    %a, %b, %c = tc.composite %x, %y : (tensor<3xf32>, tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xi1>) attributes {expression = "mul(i0, i1); exp(%0); gt(%1, i0) -> %0, %1, %2"} {
// CHECK:           tc.yield %{{.*}}, %{{.*}}, %{{.*}} : f32, f32, i1
// CHECK:         %s = tc.sum %a axes = array<i64: 0> : tensor<3xf32> -> tensor<f32>
// CHECK-NEXT:    func.return %b, %c, %s : tensor<3xf32>, tensor<3xi1>, tensor<f32>

// -----

// At most max-inputs inputs per composite: the chain splits where a third input
// would join, in block order (deterministic); single ops left over stay ops.

func.func @limit(%a: tensor<4xi32>, %b: tensor<4xi32>, %c: tensor<4xi32>, %d: tensor<4xi32>) -> tensor<4xi32> {
  %0 = tc.add %a, %b : tensor<4xi32>
  %1 = tc.mul %0, %0 : tensor<4xi32>
  %2 = tc.sub %1, %c : tensor<4xi32>
  %3 = tc.mod %2, %d : tensor<4xi32>
  func.return %3 : tensor<4xi32>
}

// CHECK-LABEL: func.func @limit(
// CHECK-NEXT:    tc.composite %a, %b, %c, %d : (tensor<4xi32>, tensor<4xi32>, tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>

// LIMIT-LABEL: func.func @limit(
// LIMIT-NEXT:    %[[P:.*]] = tc.composite %a, %b : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32> attributes {expression = "add(i0, i1); mul(%0, %0) -> %1"}
// LIMIT:         %[[Q:.*]] = tc.sub %[[P]], %c : tensor<4xi32>
// LIMIT-NEXT:    %[[R:.*]] = tc.mod %[[Q]], %d : tensor<4xi32>
// LIMIT-NEXT:    func.return %[[R]]

// -----

// A lone op stays as it is (nothing to fuse), unless a reduction is its only
// user: then the reduction will compute it in its own loop.

func.func @alone(%x: tensor<?xf64>, %y: tensor<?xf64>) -> (tensor<?xf64>, tensor<f64>) {
  %a = tc.add %x, %y : tensor<?xf64>
  %m = tc.mul %x, %y : tensor<?xf64>
  %s = tc.sum %m axes = array<i64: 0> : tensor<?xf64> -> tensor<f64>
  func.return %a, %s : tensor<?xf64>, tensor<f64>
}

// CHECK-LABEL: func.func @alone(
// CHECK-NEXT:    %a = tc.add %x, %y : tensor<?xf64>
// CHECK-NEXT:    %m = tc.composite %x, %y : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64> attributes {expression = "mul(i0, i1) -> %0"}
// CHECK:         %s = tc.sum %m
