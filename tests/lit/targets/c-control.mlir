// RUN: tensorc-opt %s -t c -o %t.c
// RUN: filecheck %s --input-file=%t.c
// RUN: cc -std=c11 -fwrapv -Wall -Werror -c %t.c -o %t.o

// An assert on a cmpi reports both values; a temporary is freed on both exits;
// scf.if results are declared before the branch; carried values that read each
// other are staged. Each loop nest becomes a function of its own; one with
// results hands them back through pointers.
func.func @main(%a: memref<?xf32>, %b: memref<?xf32>) -> (memref<?xf32>, memref<i64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %i0 = arith.constant 0 : i64
  %i1 = arith.constant 1 : i64
  %n = memref.dim %a, %c0 : memref<?xf32>
  %m = memref.dim %b, %c0 : memref<?xf32>
  %tmp = memref.alloc(%n) : memref<?xf32>
  %same = arith.cmpi eq, %n, %m : index
  cf.assert %same, "tc.add (created at model.py:12): lhs dim 0 differs from rhs dim 0"
  %out = memref.alloc(%n) : memref<?xf32>
  %fib = memref.alloc() : memref<i64>
  scf.for %i = %c0 to %n step %c1 {
    %x = memref.load %a[%i] : memref<?xf32>
    %positive = arith.cmpf ogt, %x, %zero : f32
    %y = scf.if %positive -> (f32) {
      scf.yield %x : f32
    } else {
      %nx = arith.negf %x : f32
      scf.yield %nx : f32
    }
    memref.store %y, %out[%i] : memref<?xf32>
  }
  %f, %g = scf.for %i = %c0 to %n step %c1 iter_args(%p = %i0, %q = %i1) -> (i64, i64) {
    %s = arith.addi %p, %q : i64
    scf.yield %q, %s : i64, i64
  }
  memref.store %f, %fib[] : memref<i64>
  memref.dealloc %tmp : memref<?xf32>
  func.return %out, %fib : memref<?xf32>, memref<i64>
}

// CHECK-LABEL: TC_NEST void tensorc_nest_0(
// CHECK:               float [[Y:y_[0-9]+]];
// CHECK-NEXT:          if ([[X:x_[0-9]+]] > 0.0f) {
// CHECK-NEXT:              [[Y]] = [[X]];
// CHECK-NEXT:          } else {
// CHECK-NEXT:              [[Y]] = -[[X]];
// CHECK-NEXT:          }
// CHECK-LABEL: TC_NEST void tensorc_nest_1(
// CHECK-SAME:    const int64_t {{a_[0-9]+_d0}}, int64_t *[[POUT:p_[0-9]+_out_[0-9]+]], int64_t *[[QOUT:q_[0-9]+_out_[0-9]+]]) {
// CHECK-NEXT:      int64_t [[P:p_[0-9]+]] = 0;
// CHECK-NEXT:      int64_t [[Q:q_[0-9]+]] = 1;
// CHECK-NEXT:      for (
// CHECK-NEXT:          const int64_t [[S1:v[0-9]+]] = [[Q]];
// CHECK-NEXT:          const int64_t [[S2:v[0-9]+]] = [[P]] + [[Q]];
// CHECK-NEXT:          [[P]] = [[S1]];
// CHECK-NEXT:          [[Q]] = [[S2]];
// CHECK-NEXT:      }
// CHECK-NEXT:      *[[POUT]] = [[P]];
// CHECK-NEXT:      *[[QOUT]] = [[Q]];
// CHECK-NEXT:  }
// CHECK-LABEL: int tensorc_entry_main(
// CHECK:           float *restrict [[TMP:tmp_[0-9]+]] = NULL;
// CHECK:           int status = 1;
// CHECK:           if (!([[N:a_[0-9]+_d0]] == [[M:b_[0-9]+_d0]])) {
// CHECK-NEXT:          tensorc_fail_got(err, err_len, "tc.add (created at model.py:12): lhs dim 0 differs from rhs dim 0", (long long)[[N]], (long long)[[M]]);
// CHECK-NEXT:          goto fail;
// CHECK-NEXT:      }
// CHECK:           tensorc_nest_0([[N]], {{a_[0-9]+}}, [[OUT:out_[0-9]+]]);
// CHECK-NEXT:      int64_t [[P]];
// CHECK-NEXT:      int64_t [[Q]];
// CHECK-NEXT:      tensorc_nest_1([[N]], &[[P]], &[[Q]]);
// CHECK-NEXT:      [[FIB:fib_[0-9]+]][0] = [[P]];
// CHECK:           free([[TMP]]);
// CHECK-NEXT:      [[TMP]] = NULL;
// CHECK:           return 0;
// CHECK-NEXT:  fail:
// CHECK-NEXT:      free([[TMP]]);
