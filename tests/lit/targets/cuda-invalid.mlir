// RUN: not tensorc-opt %s -p tc-outline-gpu-kernels -t cuda 2>&1 | filecheck %s

// Block-scoped buffers whose placement is still open cannot be printed: run
// tc-promote-shared first.

func.func @row_sums(%x: memref<?x?xf64>) -> memref<?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x?xf64>
  %m = memref.dim %x, %c1 : memref<?x?xf64>
  %out = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %zero = arith.constant 0.0 : f64
    %r = scf.for %j = %c0 to %m step %c1 iter_args(%acc = %zero) -> (f64) {
      %a = memref.load %x[%i, %j] : memref<?x?xf64>
      %b = arith.addf %acc, %a : f64
      scf.yield %b : f64
    }
    memref.store %r, %out[%i] : memref<?xf64>
  }
  func.return %out : memref<?xf64>
}

// CHECK: LoweringError: memref.alloc of memref<256xf64, #tck.memspace<global>> inside a kernel: block-scoped buffers must be placed in shared memory first (tc-promote-shared)
