// RUN: tensorc-opt %s -p tc-outline-gpu-kernels,tc-promote-shared -t cuda -o %t.cu
// RUN: filecheck %s --input-file=%t.cu
// RUN: c++ -std=c++17 -fsyntax-only -Wall -Werror -include %S/../../../tensorc/runtime/cuda_emu.h -x c++ %t.cu

// The tiled matrix product: 16 x 16 threads, two 16 x 16 tiles in shared memory
// loaded with bounds checks (zeros outside), a barrier before and after the tile
// product; integer atomics for a scatter-add of i64 values.

func.func @matmul(%a: memref<?x?xf64>, %b: memref<?x?xf64>) -> memref<?x?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = memref.dim %a, %c0 : memref<?x?xf64>
  %k = memref.dim %a, %c1 : memref<?x?xf64>
  %n = memref.dim %b, %c1 : memref<?x?xf64>
  %c = memref.alloc(%m, %n) : memref<?x?xf64>
  func.call @tensorc_gemm_f64(%a, %b, %c, %m, %n, %k, %c0, %c0) : (memref<?x?xf64>, memref<?x?xf64>, memref<?x?xf64>, index, index, index, index, index) -> ()
  func.return %c : memref<?x?xf64>
}
func.func private @tensorc_gemm_f64(memref<?x?xf64>, memref<?x?xf64>, memref<?x?xf64>, index, index, index, index, index)

func.func @counts(%i: memref<?xi64>, %n: index) -> memref<?xi64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1 : i64
  %k = memref.dim %i, %c0 : memref<?xi64>
  %out = memref.alloc(%n) : memref<?xi64>
  scf.for %j = %c0 to %k step %c1 {
    %raw = memref.load %i[%j] : memref<?xi64>
    %idx = arith.index_cast %raw : i64 to index
    %old = memref.load %out[%idx] : memref<?xi64>
    %new = arith.addi %old, %one : i64
    memref.store %new, %out[%idx] : memref<?xi64>
  }
  func.return %out : memref<?xi64>
}

// CHECK-LABEL: extern "C" __global__ void __launch_bounds__(256, 4) matmul_matmul_0(
// CHECK:           __shared__ unsigned long long tc_shared[512];
// CHECK-NEXT:      double *const [[TA:a_tile_[0-9]+]] = (double *)(tc_shared + 0);
// CHECK-NEXT:      double *const [[TB:b_tile_[0-9]+]] = (double *)(tc_shared + 256);
// CHECK-DAG:       const int64_t [[TY:v[0-9]+]] = (int64_t)threadIdx.y;
// CHECK-DAG:       const int64_t [[TX:v[0-9]+]] = (int64_t)threadIdx.x;
// CHECK:                   if (((uint64_t)[[ROW:v[0-9]+]] < (uint64_t)m_4) & ((uint64_t)[[KA:v[0-9]+]] < (uint64_t)k_6)) {
// CHECK-NEXT:                  const double [[LA:v[0-9]+]] = a_1[[[ROW]] * a_1_d1 + [[KA]]];
// CHECK:                   } else {
// CHECK-NEXT:                  [[VA:v[0-9]+]] = 0.0;
// CHECK:                   [[TA]][[[TY]] * 16 + [[TX]]] = {{.*}};
// CHECK-NEXT:              [[TB]][[[TY]] * 16 + [[TX]]] = {{.*}};
// CHECK-NEXT:              __syncthreads();
// CHECK-NEXT:              double [[ACC:v[0-9]+]] = {{.*}};
// CHECK-NEXT:              for (int64_t [[KK:i_[0-9]+]] = 0; [[KK]] < 16; [[KK]] += 1) {
// CHECK-NEXT:                  const double [[X:v[0-9]+]] = [[TA]][[[TY]] * 16 + [[KK]]];
// CHECK-NEXT:                  const double [[Y:v[0-9]+]] = [[TB]][[[KK]] * 16 + [[TX]]];
// CHECK-NEXT:                  [[ACC]] = [[ACC]] + ([[X]] * [[Y]]);
// CHECK-NEXT:              }
// CHECK-NEXT:              __syncthreads();

// CHECK-LABEL: extern "C" __global__ void __launch_bounds__(256, 4) counts_elementwise_0(
// CHECK:           atomicAdd((unsigned long long *)&out_{{[0-9]+}}[{{.*}}], (unsigned long long)(1));
