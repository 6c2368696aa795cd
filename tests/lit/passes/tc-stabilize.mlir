// RUN: tensorc-opt %s -p tc-stabilize | filecheck %s

// The logistic regression of the Theano tutorial: 1 / (1 + exp(-z)), its log and
// the log of its complement become sigmoid and softplus forms (finite for any z).
func.func @logistic(%z: tensor<?xf64>, %n: tensor<i64>) -> (tensor<?xf64>, tensor<?xf64>, tensor<?xf64>) {
  %one = tc.constant dense<1.0> : tensor<f64>
  %ones = tc.broadcast %one(%n) : tensor<f64>, tensor<i64> -> tensor<?xf64>
  %m = tc.neg %z : tensor<?xf64>
  %e = tc.exp %m : tensor<?xf64>
  %d = tc.add %ones, %e : tensor<?xf64>
  %p = tc.div %ones, %d : tensor<?xf64>
  %lp = tc.log %p : tensor<?xf64>
  %q = tc.sub %ones, %p : tensor<?xf64>
  %lq = tc.log %q : tensor<?xf64>
  func.return %p, %lp, %lq : tensor<?xf64>, tensor<?xf64>, tensor<?xf64>
}

// CHECK-LABEL: func.func @logistic(
// CHECK-NEXT:    %p = tc.sigmoid %z : tensor<?xf64>
// CHECK-NEXT:    %[[NZ:[a-z0-9_]+]] = tc.neg %z : tensor<?xf64>
// CHECK-NEXT:    %[[SP:[a-z0-9_]+]] = tc.softplus %[[NZ]] : tensor<?xf64>
// CHECK-NEXT:    %[[LP:[a-z0-9_]+]] = tc.neg %[[SP]] : tensor<?xf64>
// CHECK-NEXT:    %[[SQ:[a-z0-9_]+]] = tc.softplus %z : tensor<?xf64>
// CHECK-NEXT:    %[[LQ:[a-z0-9_]+]] = tc.neg %[[SQ]] : tensor<?xf64>
// CHECK-NEXT:    func.return %p, %[[LP]], %[[LQ]] :

// log(1 + exp(x)) and log1p(exp(x)) are softplus; the log of a softmax-like ratio
// exp(x) / s is x - log(s); log(exp(x)) is x.

func.func @softplus_and_log_softmax(%x: tensor<?xf64>, %s: tensor<?xf64>, %n: tensor<i64>) -> (tensor<?xf64>, tensor<?xf64>, tensor<?xf64>, tensor<?xf64>) {
  %one = tc.constant dense<1.0> : tensor<f64>
  %ones = tc.broadcast %one(%n) : tensor<f64>, tensor<i64> -> tensor<?xf64>
  %e = tc.exp %x : tensor<?xf64>
  %a = tc.add %e, %ones : tensor<?xf64>
  %sp = tc.log %a : tensor<?xf64>
  %sp1 = tc.log1p %e : tensor<?xf64>
  %r = tc.div %e, %s : tensor<?xf64>
  %ls = tc.log %r : tensor<?xf64>
  %id = tc.log %e : tensor<?xf64>
  func.return %sp, %sp1, %ls, %id : tensor<?xf64>, tensor<?xf64>, tensor<?xf64>, tensor<?xf64>
}

// CHECK-LABEL: func.func @softplus_and_log_softmax(
// CHECK-NEXT:    %sp = tc.softplus %x : tensor<?xf64>
// CHECK-NEXT:    %sp1 = tc.softplus %x : tensor<?xf64>
// CHECK-NEXT:    %[[LOG:[a-z0-9_]+]] = tc.log %s : tensor<?xf64>
// CHECK-NEXT:    %[[LS:[a-z0-9_]+]] = tc.sub %x, %[[LOG]] : tensor<?xf64>
// CHECK-NEXT:    func.return %sp, %sp1, %[[LS]], %x :

// The cross-entropy of a softmax picks log-probabilities with a gather: the log
// moves inside, next to the ratio, and becomes a stable log-softmax.
func.func @gathered(%x: tensor<?x3xf64>, %s: tensor<?x3xf64>, %i: tensor<?xi64>, %j: tensor<?xi64>) -> tensor<?xf64> {
  %e = tc.exp %x : tensor<?x3xf64>
  %p = tc.div %e, %s : tensor<?x3xf64>
  %g = tc.gather %p[%i, %j] : tensor<?x3xf64>, tensor<?xi64>, tensor<?xi64> -> tensor<?xf64>
  %l = tc.log %g : tensor<?xf64>
  func.return %l : tensor<?xf64>
}

// CHECK-LABEL: func.func @gathered(
// CHECK-NEXT:    %[[LOG:[a-z0-9_]+]] = tc.log %s : tensor<?x3xf64>
// CHECK-NEXT:    %[[LS:[a-z0-9_]+]] = tc.sub %x, %[[LOG]] : tensor<?x3xf64>
// CHECK-NEXT:    %[[G:[a-z0-9_]+]] = tc.gather %[[LS]][%i, %j] : tensor<?x3xf64>, tensor<?xi64>, tensor<?xi64> -> tensor<?xf64>
// CHECK-NEXT:    func.return %[[G]] :
