// RUN: tensorc-opt %s -t c -o %t.c
// RUN: filecheck %s --input-file=%t.c
// RUN: cc -std=c11 -fwrapv -Wall -Werror -c %t.c -o %t.o

func.func private @tensorc_gemm_f64(memref<?x?xf64>, memref<?x?xf64>, memref<?x?xf64>, index, index, index, index, index)
func.func @main(%a: memref<?x?xf64>, %b: memref<?x?xf64>) -> memref<?x?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = memref.dim %a, %c0 : memref<?x?xf64>
  %k = memref.dim %a, %c1 : memref<?x?xf64>
  %n = memref.dim %b, %c1 : memref<?x?xf64>
  %c = memref.alloc(%m, %n) : memref<?x?xf64>
  func.call @tensorc_gemm_f64(%a, %b, %c, %m, %n, %k, %c0, %c1) : (memref<?x?xf64>, memref<?x?xf64>, memref<?x?xf64>, index, index, index, index, index) -> ()
  func.return %c : memref<?x?xf64>
}

// The BLAS prototypes and wrappers appear only when the module declares them.
// CHECK:       void scipy_cblas_dgemm(int order, int trans_a, int trans_b, int m, int n, int k,
// CHECK:       TC_GEMM(f64, double, scipy_cblas_dgemm, scipy_cblas_dgemv)
// CHECK-LABEL: int tensorc_entry_main(
// CHECK:           tensorc_gemm_f64([[A:a_[0-9]+]], [[B:b_[0-9]+]], [[C:c_[0-9]+]], [[A]]_d0, [[B]]_d1, [[A]]_d1, 0, 1);
// CHECK-NEXT:      out_data[0] = [[C]];
