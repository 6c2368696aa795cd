// RUN: tensorc-opt %s -t c -o %t.c
// RUN: filecheck %s --input-file=%t.c
// RUN: cc -std=c11 -fwrapv -Wall -Werror -c %t.c -o %t.o

// Row sums with a carried accumulator; exp(x) has two uses (a temporary), the
// product one use (inlined into the sum). The rows are independent: a parallel
// region taken for enough work (tensorc_parallel); the inner reduction is an
// `omp simd` reduction. The nest is outlined into a function of its own that the
// entry calls with the pointers and dims it reads.
func.func @main(%a: memref<?x4xf64>) -> memref<?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f64
  %n = memref.dim %a, %c0 : memref<?x4xf64>
  %rows = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %s = scf.for %j = %c0 to %c4 step %c1 iter_args(%acc = %zero) -> (f64) {
      %x = memref.load %a[%i, %j] : memref<?x4xf64>
      %e = math.exp %x : f64
      %p = arith.mulf %e, %x : f64
      %q = arith.addf %p, %e : f64
      %next = arith.addf %acc, %q : f64
      scf.yield %next : f64
    }
    memref.store %s, %rows[%i] : memref<?xf64>
  }
  func.return %rows : memref<?xf64>
}

// CHECK:       #include <math.h>
// CHECK-LABEL: TC_NEST void tensorc_nest_0(
// CHECK-SAME:    const int64_t [[N:a_[0-9]+_d0]], double *restrict [[A:a_[0-9]+]], double *restrict [[ROWS:rows_[0-9]+]]) {
// CHECK-NEXT:      {
// CHECK-NEXT:          tensorc_region [[REGION:region_[0-9]+]];
// CHECK-NEXT:          const bool [[THREADED:threaded_[0-9]+]] = tensorc_parallel((double)[[N]] * (1 + (double)4 * (20)), &[[REGION]]);
// CHECK-NEXT:          if (![[THREADED]]) {
// CHECK-NEXT:              for (int64_t [[SI:i_[0-9]+]] = 0; [[SI]] < [[N]]; [[SI]] += 1) {
// CHECK:                       [[ROWS]][[[SI]]] = {{acc_[0-9]+}};
// CHECK-NEXT:              }
// CHECK-NEXT:          } else {
// CHECK-NEXT:          TC_OMP(omp parallel if([[THREADED]]))
// CHECK-NEXT:          {
// CHECK-NEXT:              TC_OMP(omp for schedule(static) nowait)
// CHECK-NEXT:              for (int64_t [[I:i_[0-9]+]] = 0; [[I]] < [[N]]; [[I]] += 1) {
// CHECK-NEXT:                  double [[ACC:acc_[0-9]+]] = 0.0;
// CHECK-NEXT:                  TC_OMP(omp simd reduction(+:[[ACC]]))
// CHECK-NEXT:                  for (int64_t [[J:j_[0-9]+]] = 0; [[J]] < 4; [[J]] += 1) {
// CHECK-NEXT:                      const double [[X:x_[0-9]+]] = [[A]][[[I]] * 4 + [[J]]];
// CHECK-NEXT:                      const double [[E:e_[0-9]+]] = exp([[X]]);
// CHECK-NEXT:                      [[ACC]] = [[ACC]] + (([[E]] * [[X]]) + [[E]]);
// CHECK-NEXT:                  }
// CHECK-NEXT:                  [[ROWS]][[[I]]] = [[ACC]];
// CHECK-NEXT:              }
// CHECK-NEXT:              if ([[THREADED]]) tensorc_region_done(&[[REGION]]);
// CHECK-NEXT:          }
// CHECK-NEXT:          }
// CHECK-NEXT:          if ([[THREADED]]) tensorc_region_end(&[[REGION]]);
// CHECK-NEXT:      }
// CHECK-NEXT:  }
// CHECK-LABEL: TC_ENTRY int tensorc_entry_main(void *const *in_data, const int64_t *in_shapes, void **out_data, int64_t *out_shapes, char *err, int64_t err_len) {
// CHECK-NEXT:      if (in_shapes[1] != 4) {
// CHECK-NEXT:          tensorc_fail_input(err, err_len, 0, 1, (long long)in_shapes[1], 4);
// CHECK-NEXT:          return 1;
// CHECK-NEXT:      }
// CHECK-NEXT:      const int64_t [[N]] = in_shapes[0];
// CHECK-NEXT:      double *restrict [[A]] = (double *)in_data[0];
// CHECK:           double *restrict [[ROWS]] = NULL;
// CHECK:           [[ROWS]] = (double *)tensorc_alloc(sizeof(double), 1, (const int64_t[]){[[ROWS]]_d0});
// CHECK:           tensorc_nest_0([[N]], [[A]], [[ROWS]]);
// CHECK-NEXT:      out_data[0] = [[ROWS]];
// CHECK-NEXT:      out_shapes[0] = [[ROWS]]_d0;
// CHECK-NEXT:      return 0;
// CHECK-NEXT:  fail:
// CHECK-NEXT:      free([[ROWS]]);
// CHECK-NEXT:      return status;
// CHECK-NEXT:  }
// CHECK:       void tensorc_free(void *p) { free(p); }
