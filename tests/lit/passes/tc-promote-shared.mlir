// RUN: tensorc-opt %s --split-input-file -p tc-outline-gpu-kernels,tc-promote-shared | filecheck %s
// RUN: tensorc-opt %s --split-input-file -p "tc-outline-gpu-kernels,tc-promote-shared{shared-bytes=1024}" | filecheck %s --check-prefix=SMALL
// RUN: tensorc-opt %s --split-input-file -p "tc-outline-gpu-kernels,tc-promote-shared{shared-bytes=1024}" -o /dev/null 2>&1 | filecheck %s --check-prefix=REMARK

// A row reduction followed by a nest over the same rows (softmax's first half).
// The reduction's partials go to shared memory, and so does the row's maximum:
// only this kernel touches it, always at its row, so each block keeps its row's
// value in shared memory and the host buffer disappears.

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

// CHECK-LABEL:   func.func @shift(
// CHECK-NOT:       %max
// CHECK:           "gpu.launch_func"(%{{.*}}, %c1, %c1, %{{.*}}, %c1, %c1, %{{.*}}, %n, %m, %x, %out) <{kernel = @kernels::@shift_reduce_rows_0
// CHECK:         ^bb0(%n: index, %m: index, %x: memref<?x?xf64>, %out: memref<?x?xf64>):
// CHECK:           %partial = memref.alloc() : memref<256xf64, #tck.memspace<shared>>
// CHECK-NEXT:      %[[MAX:.*]] = memref.alloc() : memref<f64, #tck.memspace<shared>>
// CHECK:             memref.store %{{.*}}, %[[MAX]][] : memref<f64, #tck.memspace<shared>>
// CHECK:             %{{.*}} = memref.load %[[MAX]][] : memref<f64, #tck.memspace<shared>>
// CHECK:           } {tck.block_loop}
// CHECK:         tck.kind = "reduce_rows", tck.shared_bytes = 2056 : i64

// With a 1024-byte budget the 2048-byte partials stay in global memory: one copy
// per block, allocated by the host for the launch's grid and indexed by the
// block's linear id; the 8-byte row maximum still fits.

// SMALL-LABEL:   func.func @shift(
// SMALL:           %[[GRID:.*]] = arith.minui
// SMALL-NEXT:      %[[XY:.*]] = arith.muli %[[GRID]], %c1 : index
// SMALL-NEXT:      %[[BLOCKS:.*]] = arith.muli %[[XY]], %c1 : index
// SMALL-NEXT:      %[[COPIES:.*]] = memref.alloc(%[[BLOCKS]]) : memref<?x256xf64>
// SMALL-NEXT:      "gpu.launch_func"(%[[GRID]], {{.*}}, %x, %out, %[[COPIES]]) <{kernel = @kernels::@shift_reduce_rows_0
// SMALL-NEXT:      memref.dealloc %[[COPIES]] : memref<?x256xf64>
// SMALL:         ^bb0(%n: index, %m: index, %x: memref<?x?xf64>, %out: memref<?x?xf64>, %[[PER_BLOCK:.*]]: memref<?x256xf64>):
// SMALL-NEXT:      %{{.*}} = memref.alloc() : memref<f64, #tck.memspace<shared>>
// SMALL:           %[[BX:.*]] = "gpu.block_id"() <{dimension = #gpu<dim x>}> : () -> index
// SMALL-NEXT:      %[[BY:.*]] = "gpu.block_id"() <{dimension = #gpu<dim y>}> : () -> index
// SMALL-NEXT:      %[[BZ:.*]] = "gpu.block_id"() <{dimension = #gpu<dim z>}> : () -> index
// SMALL-NEXT:      %[[GX:.*]] = "gpu.grid_dim"() <{dimension = #gpu<dim x>}> : () -> index
// SMALL-NEXT:      %[[GY:.*]] = "gpu.grid_dim"() <{dimension = #gpu<dim y>}> : () -> index
// SMALL-NEXT:      %[[ZY:.*]] = arith.muli %[[GY]], %[[BZ]] : index
// SMALL-NEXT:      %[[Y:.*]] = arith.addi %[[BY]], %[[ZY]] : index
// SMALL-NEXT:      %[[YX:.*]] = arith.muli %[[GX]], %[[Y]] : index
// SMALL-NEXT:      %[[LINEAR:.*]] = arith.addi %[[BX]], %[[YX]] : index
// SMALL:           memref.store %{{.*}}, %[[PER_BLOCK]][%[[LINEAR]], %{{.*}}] : memref<?x256xf64>
// SMALL:         tck.shared_bytes = 8 : i64

// REMARK: tc-promote-shared: kernel @shift_reduce_rows_0: a scratch buffer of type memref<256xf64> (2048 bytes) does not fit in the 1024 bytes of shared memory per block (0 used); it stays in global memory

// -----

// The two tiles of a tiled f32 matrix product: 2 x 16 x 16 x 4 bytes.

func.func @matmul(%a: memref<?x?xf32>, %b: memref<?x?xf32>) -> memref<?x?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = memref.dim %a, %c0 : memref<?x?xf32>
  %k = memref.dim %a, %c1 : memref<?x?xf32>
  %n = memref.dim %b, %c1 : memref<?x?xf32>
  %c = memref.alloc(%m, %n) : memref<?x?xf32>
  func.call @tensorc_gemm_f32(%a, %b, %c, %m, %n, %k, %c0, %c0) : (memref<?x?xf32>, memref<?x?xf32>, memref<?x?xf32>, index, index, index, index, index) -> ()
  func.return %c : memref<?x?xf32>
}
func.func private @tensorc_gemm_f32(memref<?x?xf32>, memref<?x?xf32>, memref<?x?xf32>, index, index, index, index, index)

// CHECK:           %a_tile = memref.alloc() : memref<16x16xf32, #tck.memspace<shared>>
// CHECK-NEXT:      %b_tile = memref.alloc() : memref<16x16xf32, #tck.memspace<shared>>
// CHECK:         tck.kind = "matmul", tck.shared_bytes = 2048 : i64

// The 1024-byte budget takes one tile; the other is a per-block global copy.
// SMALL:           memref.alloc(%{{.*}}) : memref<?x16x16xf32>
// SMALL:           %a_tile = memref.alloc() : memref<16x16xf32, #tck.memspace<shared>>
// SMALL:         tck.kind = "matmul", tck.shared_bytes = 1024 : i64
// REMARK: tc-promote-shared: kernel @matmul_matmul_0: a scratch buffer of type memref<16x16xf32> (1024 bytes) does not fit in the 1024 bytes of shared memory per block (1024 used); it stays in global memory
