// RUN: tensorc-opt %s --split-input-file -p tc-bufferize,tc-fuse-loops | filecheck %s

// Softmax after tc-fuse-elemwise: max, exp(x - max), sum, divide. Every buffer
// they share is read and written row by row, so the four nests become one loop
// over the rows (allocations and checks move above it); the row's max and sum,
// stored earlier in the same iteration, are used directly instead of reloaded.

func.func @softmax(%x: tensor<?x?xf64>) -> tensor<?x?xf64> {
  %m = tc.max %x axes = array<i64: 1> keepdims : tensor<?x?xf64> -> tensor<?x1xf64>
  %e = tc.composite %x, %m : (tensor<?x?xf64>, tensor<?x1xf64>) -> tensor<?x?xf64> {
  ^bb0(%a: f64, %b: f64):
    %d = arith.subf %a, %b : f64
    %r = math.exp %d : f64
    tc.yield %r : f64
  }
  %s = tc.sum %e axes = array<i64: 1> keepdims : tensor<?x?xf64> -> tensor<?x1xf64>
  %y = tc.composite %e, %s : (tensor<?x?xf64>, tensor<?x1xf64>) -> tensor<?x?xf64> {
  ^bb0(%a: f64, %b: f64):
    %q = arith.divf %a, %b : f64
    tc.yield %q : f64
  }
  func.return %y : tensor<?x?xf64>
}

// CHECK-LABEL: func.func @softmax(
// CHECK:         cf.assert
// CHECK-COUNT-4: memref.alloc
// CHECK-NEXT:    scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:           %[[MAX:.*]] = scf.for {{.*}} iter_args
// CHECK:             arith.maximumf
// CHECK:           memref.store %[[MAX]], %{{.*}}[%[[I]], %{{.*}}] : memref<?x1xf64>
// CHECK-NEXT:      scf.for
// CHECK-NEXT:        memref.load %x
// CHECK-NEXT:        arith.subf %{{.*}}, %[[MAX]] : f64
// CHECK-NEXT:        math.exp
// CHECK:           %[[SUM:.*]] = scf.for {{.*}} iter_args
// CHECK:             arith.addf
// CHECK:           scf.for
// CHECK-NEXT:        memref.load
// CHECK-NEXT:        arith.divf %{{.*}}, %[[SUM]] : f64
// CHECK-NEXT:        memref.store
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return

// -----

// A sum over the leading axis accumulates into every result element on every
// row: the next nest (which reads the sums) must wait for all rows.

func.func @columns(%x: tensor<?x?xf64>) -> tensor<?x?xf64> {
  %s = tc.sum %x axes = array<i64: 0> keepdims : tensor<?x?xf64> -> tensor<1x?xf64>
  %y = tc.composite %x, %s : (tensor<?x?xf64>, tensor<1x?xf64>) -> tensor<?x?xf64> {
  ^bb0(%a: f64, %b: f64):
    %q = arith.divf %a, %b : f64
    tc.yield %q : f64
  }
  func.return %y : tensor<?x?xf64>
}

// CHECK-LABEL: func.func @columns(
// CHECK:         memref.store %{{.*}}, %[[S:.*]][%{{.*}}, %{{.*}}] : memref<1x?xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    scf.for
// CHECK:           memref.store %{{.*}}, %[[S]][%{{.*}}, %{{.*}}] : memref<1x?xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    memref.alloc
// CHECK-NEXT:    scf.for
