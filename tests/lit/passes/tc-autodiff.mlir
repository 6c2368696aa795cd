// RUN: tensorc-opt %s -p tc-autodiff | filecheck %s
// RUN: tensorc-opt %s -p tc-autodiff,tc-canonicalize,cse,dce | filecheck %s --check-prefix=SIMPLE

// The cotangent of the cost is 1; sum's rule broadcasts it back, sin's rule
// multiplies by cos. tc-canonicalize leaves just cos(x).
func.func @sin(%x: tensor<?xf64>) -> tensor<?xf64> {
  %s = tc.sin %x : tensor<?xf64>
  %c = tc.sum %s axes = array<i64: 0> : tensor<?xf64> -> tensor<f64>
  %g = tc.grad %c wrt %x : tensor<f64>, tensor<?xf64> -> tensor<?xf64>
  func.return %g : tensor<?xf64>
}

// CHECK-LABEL: func.func @sin(
// CHECK:         %c = tc.sum %s
// CHECK-NEXT:    %[[ONE:[0-9]+]] = tc.constant dense<1.000000e+00> : tensor<f64>
// CHECK-NEXT:    %[[N:[0-9]+]] = tc.dim %s[0] : tensor<?xf64>
// CHECK-NEXT:    %[[G:[0-9]+]] = tc.broadcast %[[ONE]](%[[N]]) : tensor<f64>, tensor<i64> -> tensor<?xf64>
// CHECK-NEXT:    %[[COS:[0-9]+]] = tc.cos %x : tensor<?xf64>
// CHECK-NEXT:    %g = tc.mul %[[G]], %[[COS]] : tensor<?xf64>
// CHECK-NEXT:    func.return %g
// SIMPLE-LABEL: func.func @sin(
// SIMPLE-NEXT:    %g = tc.cos %x : tensor<?xf64>
// SIMPLE-NEXT:    func.return %g

// A broadcast operand gets its cotangent summed over the broadcast axis (the
// generic unbroadcast); both results of one tc.grad come from one sweep.
func.func @unbroadcast(%x: tensor<?x4xf64>, %b: tensor<4xf64>) -> (tensor<?x4xf64>, tensor<4xf64>) {
  %n = tc.dim %x[0] : tensor<?x4xf64>
  %bb = tc.broadcast %b(%n) : tensor<4xf64>, tensor<i64> -> tensor<?x4xf64>
  %y = tc.mul %x, %bb : tensor<?x4xf64>
  %c = tc.sum %y axes = array<i64: 0, 1> : tensor<?x4xf64> -> tensor<f64>
  %gx, %gb = tc.grad %c wrt %x, %b : tensor<f64>, tensor<?x4xf64>, tensor<4xf64> -> tensor<?x4xf64>, tensor<4xf64>
  func.return %gx, %gb : tensor<?x4xf64>, tensor<4xf64>
}

// CHECK-LABEL: func.func @unbroadcast(
// CHECK:         %[[G:[0-9]+]] = tc.broadcast
// CHECK-NEXT:    %gx = tc.mul %[[G]], %bb : tensor<?x4xf64>
// CHECK-NEXT:    %[[GBB:[0-9]+]] = tc.mul %[[G]], %x : tensor<?x4xf64>
// CHECK-NEXT:    %gb = tc.sum %[[GBB]] axes = array<i64: 0> : tensor<?x4xf64> -> tensor<4xf64>
// CHECK-NEXT:    func.return %gx, %gb
// SIMPLE-LABEL: func.func @unbroadcast(
// SIMPLE:         %gb = tc.sum %x axes = array<i64: 0> : tensor<?x4xf64> -> tensor<4xf64>
// SIMPLE-NEXT:    func.return %bb, %gb

// Fan-out accumulates (x is used three times); a wrt the cost does not depend on
// gets zeros. Two tc.grad ops of one cost share one sweep.
func.func @fan_out_and_disconnected(%x: tensor<f64>, %y: tensor<f64>) -> (tensor<f64>, tensor<f64>) {
  %sq = tc.mul %x, %x : tensor<f64>
  %c = tc.add %sq, %x : tensor<f64>
  %gx = tc.grad %c wrt %x : tensor<f64>, tensor<f64> -> tensor<f64>
  %gy = tc.grad %c wrt %y : tensor<f64>, tensor<f64> -> tensor<f64>
  func.return %gx, %gy : tensor<f64>, tensor<f64>
}

// CHECK-LABEL: func.func @fan_out_and_disconnected(
// CHECK:         %[[ONE:[0-9]+]] = tc.constant dense<1.000000e+00> : tensor<f64>
// CHECK-NEXT:    %[[A:[0-9]+]] = tc.mul %[[ONE]], %x : tensor<f64>
// CHECK-NEXT:    %[[B:[0-9]+]] = tc.mul %[[ONE]], %x : tensor<f64>
// CHECK-NEXT:    %[[S:[0-9]+]] = tc.add %[[ONE]], %[[A]] : tensor<f64>
// CHECK-NEXT:    %gx = tc.add %[[S]], %[[B]] : tensor<f64>
// CHECK-NEXT:    %gy = tc.constant dense<0.000000e+00> : tensor<f64>
// CHECK-NOT:     tc.grad
// CHECK:         func.return %gx, %gy

// No gradient flows through tc.stop_gradient, which the pass then removes.
func.func @stop_gradient(%x: tensor<f64>) -> (tensor<f64>, tensor<f64>) {
  %s = tc.stop_gradient %x : tensor<f64>
  %c = tc.mul %s, %x : tensor<f64>
  %g = tc.grad %c wrt %x : tensor<f64>, tensor<f64> -> tensor<f64>
  func.return %c, %g : tensor<f64>, tensor<f64>
}

// CHECK-LABEL: func.func @stop_gradient(
// CHECK-NEXT:    %c = tc.mul %x, %x : tensor<f64>
// CHECK-NEXT:    %[[ONE:[0-9]+]] = tc.constant dense<1.000000e+00> : tensor<f64>
// CHECK-NEXT:    %g = tc.mul %[[ONE]], %x : tensor<f64>
// CHECK-NEXT:    func.return %c, %g

// Integer-array indexing: the gradient scatter-adds into zeros (repeated
// indices accumulate); the indices get no gradient.
func.func @gather(%x: tensor<?x3xf64>, %i: tensor<2xi64>) -> tensor<?x3xf64> {
  %r = tc.gather %x[%i] : tensor<?x3xf64>, tensor<2xi64> -> tensor<2x3xf64>
  %c = tc.sum %r axes = array<i64: 0, 1> : tensor<2x3xf64> -> tensor<f64>
  %g = tc.grad %c wrt %x : tensor<f64>, tensor<?x3xf64> -> tensor<?x3xf64>
  func.return %g : tensor<?x3xf64>
}

// CHECK-LABEL: func.func @gather(
// CHECK:         %[[ZERO:[0-9]+]] = tc.constant dense<0.000000e+00> : tensor<f64>
// CHECK-NEXT:    %[[N:[0-9]+]] = tc.dim %x[0] : tensor<?x3xf64>
// CHECK-NEXT:    %[[ZEROS:[0-9]+]] = tc.broadcast %[[ZERO]](%[[N]]) : tensor<f64>, tensor<i64> -> tensor<?x3xf64>
// CHECK-NEXT:    %g = tc.scatter_add %{{[0-9]+}} into %[[ZEROS]][%i] : tensor<2x3xf64>, tensor<?x3xf64>, tensor<2xi64>
// CHECK-NEXT:    func.return %g
