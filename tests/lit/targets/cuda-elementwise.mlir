// RUN: tensorc-opt %s -p tc-outline-gpu-kernels,tc-promote-shared -t cuda -o %t.cu
// RUN: filecheck %s --input-file=%t.cu
// RUN: c++ -std=c++17 -fsyntax-only -Wall -Werror -include %S/../../../tensorc/runtime/cuda_emu.h -x c++ %t.cu

// A self-contained source (no #include: nvcc, NVRTC and g++ with cuda_emu.h compile
// it): its own fixed-width types and the helpers device code lacks, then only the
// kernels. A memref argument is a pointer (const when only read) followed by its
// dims; signed integer arithmetic wraps through unsigned arithmetic (nvcc has no
// -fwrapv).

func.func @wrap(%x: memref<?xi32>, %y: memref<?xi32>) -> memref<?xi32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xi32>
  %out = memref.alloc(%n) : memref<?xi32>
  scf.for %i = %c0 to %n step %c1 {
    %a = memref.load %x[%i] : memref<?xi32>
    %b = memref.load %y[%i] : memref<?xi32>
    %s = arith.muli %a, %b : i32
    %t = arith.addi %s, %a : i32
    memref.store %t, %out[%i] : memref<?xi32>
  }
  func.return %out : memref<?xi32>
}

// CHECK-NOT:   #include
// CHECK:       #ifndef __TENSORC_CUDA_EMU__
// CHECK:       typedef long long tc_int64;
// CHECK:       #define int64_t tc_int64
// CHECK:       #define isunordered(a, b) tc_isunordered(a, b)
// CHECK:       #define TC_FN static __device__ inline
// CHECK:       TC_FN T tc_divsi_##S(T a, T b) {
// CHECK-NOT:   tensorc_entry
// CHECK-LABEL: extern "C" __global__ void __launch_bounds__(256, 4) wrap_elementwise_0(
// CHECK-NEXT:      int64_t n_1,
// CHECK-NEXT:      const int32_t *__restrict__ x_2,
// CHECK-NEXT:      int64_t x_2_d0,
// CHECK-NEXT:      const int32_t *__restrict__ y_3,
// CHECK-NEXT:      int64_t y_3_d0,
// CHECK-NEXT:      int32_t *__restrict__ out_4,
// CHECK-NEXT:      int64_t out_4_d0) {
// CHECK-NEXT:      const int64_t [[FIRST:v[0-9]+]] = (((int64_t)blockIdx.x) * 256) + ((int64_t)threadIdx.x);
// CHECK-NEXT:      const int64_t [[STRIDE:v[0-9]+]] = ((int64_t)gridDim.x) * 256;
// CHECK-NEXT:      for (int64_t [[I:i_[0-9]+]] = [[FIRST]]; [[I]] < n_1; [[I]] += [[STRIDE]]) {
// CHECK-NEXT:          const int32_t [[A:a_[0-9]+]] = x_2[[[I]]];
// CHECK-NEXT:          const int32_t [[B:b_[0-9]+]] = y_3[[[I]]];
// CHECK-NEXT:          out_4[[[I]]] = (int32_t)((uint32_t)((int32_t)((uint32_t)[[A]] * (uint32_t)[[B]])) + (uint32_t)[[A]]);
// CHECK-NEXT:      }
// CHECK-NEXT:  }
