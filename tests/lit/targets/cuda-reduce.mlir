// RUN: tensorc-opt %s -p tc-outline-gpu-kernels,tc-promote-shared -t cuda -o %t.cu
// RUN: filecheck %s --input-file=%t.cu
// RUN: c++ -std=c++17 -fsyntax-only -Wall -Werror -include %S/../../../tensorc/runtime/cuda_emu.h -x c++ %t.cu

// A row kernel: the block's shared buffers are carved from one __shared__ array
// at the offsets tc-promote-shared planned (2048 bytes of partials, then the row's
// maximum), barriers are __syncthreads().

func.func @shift(%x: memref<?x?xf64>) -> memref<?x?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x?xf64>
  %m = memref.dim %x, %c1 : memref<?x?xf64>
  %max = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %low = arith.constant 0xFFF0000000000000 : f64
    %r = scf.for %j = %c0 to %m step %c1 iter_args(%acc = %low) -> (f64) {
      %a = memref.load %x[%i, %j] : memref<?x?xf64>
      %b = arith.maximumf %acc, %a : f64
      scf.yield %b : f64
    }
    memref.store %r, %max[%i] : memref<?xf64>
  }
  %out = memref.alloc(%n, %m) : memref<?x?xf64>
  scf.for %i = %c0 to %n step %c1 {
    scf.for %j = %c0 to %m step %c1 {
      %a = memref.load %x[%i, %j] : memref<?x?xf64>
      %b = memref.load %max[%i] : memref<?xf64>
      %d = arith.subf %a, %b : f64
      memref.store %d, %out[%i, %j] : memref<?x?xf64>
    }
  }
  func.return %out : memref<?x?xf64>
}

// CHECK-LABEL: extern "C" __global__ void __launch_bounds__(256, 4) shift_reduce_rows_0(
// CHECK-NEXT:      int64_t n_1,
// CHECK-NEXT:      int64_t m_2,
// CHECK-NEXT:      const double *__restrict__ x_3,
// CHECK-NEXT:      int64_t x_3_d0,
// CHECK-NEXT:      int64_t x_3_d1,
// CHECK-NEXT:      double *__restrict__ out_4,
// CHECK-NEXT:      int64_t out_4_d0,
// CHECK-NEXT:      int64_t out_4_d1) {
// CHECK-NEXT:      __shared__ unsigned long long tc_shared[257];
// CHECK-NEXT:      const int64_t [[BID:v[0-9]+]] = (int64_t)blockIdx.x;
// CHECK-NEXT:      const int64_t [[GDIM:v[0-9]+]] = (int64_t)gridDim.x;
// CHECK-NEXT:      const int64_t [[TID:v[0-9]+]] = (int64_t)threadIdx.x;
// CHECK-NEXT:      double *const [[PARTIAL:partial_[0-9]+]] = (double *)(tc_shared + 0);
// CHECK-NEXT:      double *const [[MAX:max_[0-9]+]] = (double *)(tc_shared + 256);
// CHECK-NEXT:      for (int64_t [[ROW:i_[0-9]+]] = [[BID]]; [[ROW]] < n_1; [[ROW]] += [[GDIM]]) {
// CHECK-NEXT:          double [[ACC:v[0-9]+]] = (double)-INFINITY;
// CHECK-NEXT:          for (int64_t [[J:i_[0-9]+]] = [[TID]]; [[J]] < m_2; [[J]] += 256) {
// CHECK-NEXT:              const double [[A:a_[0-9]+]] = x_3[[[ROW]] * x_3_d1 + [[J]]];
// CHECK-NEXT:              [[ACC]] = tc_maximumf_f64([[ACC]], [[A]]);
// CHECK-NEXT:          }
// CHECK-NEXT:          [[PARTIAL]][[[TID]]] = [[ACC]];
// CHECK-NEXT:          __syncthreads();
// CHECK-NEXT:          for (int64_t [[LEVEL:i_[0-9]+]] = 0; [[LEVEL]] < 8; [[LEVEL]] += 1) {
// CHECK-NEXT:              const int64_t [[HALF:v[0-9]+]] = tc_shrui_i64(128, [[LEVEL]]);
// CHECK-NEXT:              if ((uint64_t)[[TID]] < (uint64_t)[[HALF]]) {
// CHECK-NEXT:                  const double [[P:v[0-9]+]] = [[PARTIAL]][[[TID]]];
// CHECK-NEXT:                  const double [[Q:v[0-9]+]] = [[PARTIAL]][([[TID]] + [[HALF]])];
// CHECK-NEXT:                  [[PARTIAL]][[[TID]]] = tc_maximumf_f64([[P]], [[Q]]);
// CHECK-NEXT:              }
// CHECK-NEXT:              __syncthreads();
// CHECK-NEXT:          }
// CHECK-NEXT:          const double [[TOTAL:v[0-9]+]] = [[PARTIAL]][0];
// CHECK-NEXT:          if ([[TID]] == 0) {
// CHECK-NEXT:              [[MAX]][0] = tc_maximumf_f64((double)-INFINITY, [[TOTAL]]);
// CHECK-NEXT:          }
// CHECK-NEXT:          __syncthreads();
// CHECK-NEXT:          for (int64_t [[K:i_[0-9]+]] = [[TID]]; [[K]] < m_2; [[K]] += 256) {
// CHECK-NEXT:              const double [[X:a_[0-9]+]] = x_3[[[ROW]] * x_3_d1 + [[K]]];
// CHECK-NEXT:              const double [[M:b_[0-9]+]] = [[MAX]][0];
// CHECK-NEXT:              out_4[[[ROW]] * out_4_d1 + [[K]]] = [[X]] - [[M]];
// CHECK-NEXT:          }
// CHECK-NEXT:          __syncthreads();
// CHECK-NEXT:      }
// CHECK-NEXT:  }
