// RUN: tensorc-opt %s -t c -o %t.c
// RUN: filecheck %s --input-file=%t.c
// RUN: cc -std=c11 -fwrapv -Wall -Werror -c %t.c -o %t.o

// Scalar spellings: f16 computes in float and rounds after each op, integer
// division goes through the never-trapping helper, NaN-aware comparisons and
// min/max, exact constants and a constant global.
"memref.global"() <{sym_name = "table", sym_visibility = "private", type = memref<3xi32>, initial_value = dense<[7, -2, 2147483647]> : tensor<3xi32>, constant}> : () -> ()
func.func @main(%h: memref<f16>, %x: memref<f64>, %i: memref<i32>)
    -> (memref<f16>, memref<i1>, memref<f64>, memref<i32>, memref<i64>) {
  %c2 = arith.constant 2 : index
  %half = arith.constant 0.5 : f16
  %tenth = arith.constant 0.1 : f64
  %big = arith.constant 5000000000 : i64
  %hv = memref.load %h[] : memref<f16>
  %xv = memref.load %x[] : memref<f64>
  %iv = memref.load %i[] : memref<i32>
  %t = memref.get_global @table : memref<3xi32>
  %tv = memref.load %t[%c2] : memref<3xi32>
  %hm = arith.mulf %hv, %half : f16
  %he = math.exp %hm : f16
  %uno = arith.cmpf ult, %xv, %tenth : f64
  %mx = arith.maximumf %xv, %tenth : f64
  %q = arith.divsi %tv, %iv : i32
  %w = arith.extsi %q : i32 to i64
  %wb = arith.addi %w, %big : i64
  %o1 = memref.alloc() : memref<f16>
  %o2 = memref.alloc() : memref<i1>
  %o3 = memref.alloc() : memref<f64>
  %o4 = memref.alloc() : memref<i32>
  %o5 = memref.alloc() : memref<i64>
  memref.store %he, %o1[] : memref<f16>
  memref.store %uno, %o2[] : memref<i1>
  memref.store %mx, %o3[] : memref<f64>
  memref.store %q, %o4[] : memref<i32>
  memref.store %wb, %o5[] : memref<i64>
  func.return %o1, %o2, %o3, %o4, %o5 : memref<f16>, memref<i1>, memref<f64>, memref<i32>, memref<i64>
}

// CHECK:       static const int32_t tc_global_table[3] = {
// CHECK-NEXT:      7, -2, 2147483647
// CHECK-NEXT:  };
// CHECK-LABEL: int tensorc_entry_main(
// CHECK:           _Float16 *restrict [[H:h_[0-9]+]] = (_Float16 *)in_data[0];
// CHECK:           uint8_t *restrict [[O2:o2_[0-9]+]] = NULL;
// CHECK:           const _Float16 [[HV:hv_[0-9]+]] = [[H]][0];
// CHECK:           const int32_t [[TV:tv_[0-9]+]] = tc_global_table[2];
// CHECK-NEXT:      const int32_t [[Q:q_[0-9]+]] = tc_divsi_i32([[TV]], [[IV:iv_[0-9]+]]);
// CHECK:           [[O1:o1_[0-9]+]][0] = (_Float16)(expf((_Float16)((float)[[HV]] * (float)((_Float16)0.5f))));
// CHECK-NEXT:      [[O2]][0] = !([[XV:xv_[0-9]+]] >= 0.1);
// CHECK-NEXT:      [[O3:o3_[0-9]+]][0] = tc_maximumf_f64([[XV]], 0.1);
// CHECK-NEXT:      [[O4:o4_[0-9]+]][0] = [[Q]];
// CHECK-NEXT:      [[O5:o5_[0-9]+]][0] = ((int64_t)[[Q]]) + INT64_C(5000000000);
