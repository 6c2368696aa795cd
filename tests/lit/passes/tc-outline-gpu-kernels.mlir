// RUN: tensorc-opt %s --split-input-file -p tc-outline-gpu-kernels | filecheck %s
// RUN: tensorc-opt %s --split-input-file -p tc-outline-gpu-kernels -o /dev/null 2>&1 | filecheck %s --check-prefix=REMARK

// Elementwise: the host launches a grid-stride kernel over the flattened nest,
// ceil(n * 4 / 256) blocks clamped to [1, 65535]; the kernel recomputes the index.

func.func @scale(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %two = arith.constant 2.0 : f32
  %n = memref.dim %x, %c0 : memref<?x4xf32>
  %out = memref.alloc(%n) : memref<?x4xf32>
  scf.for %i = %c0 to %n step %c1 {
    scf.for %j = %c0 to %c4 step %c1 {
      %a = memref.load %x[%i, %j] : memref<?x4xf32>
      %b = arith.mulf %a, %two : f32
      memref.store %b, %out[%i, %j] : memref<?x4xf32>
    }
  }
  func.return %out : memref<?x4xf32>
}

// CHECK:       builtin.module attributes {gpu.container_module} {
// CHECK-LABEL:   func.func @scale(%x: memref<?x4xf32>) -> memref<?x4xf32> {
// CHECK-DAG:       %[[CAP:.*]] = arith.constant 65535 : index
// CHECK-DAG:       %[[B:.*]] = arith.constant 256 : index
// CHECK-DAG:       %[[NOSMEM:.*]] = arith.constant 0 : i32
// CHECK:           %out = memref.alloc(%n) : memref<?x4xf32>
// CHECK-NEXT:      %[[COUNT:.*]] = arith.muli %n, %c4 : index
// CHECK-NEXT:      %[[BLOCKS:.*]] = arith.ceildivui %[[COUNT]], %[[B]] : index
// CHECK-NEXT:      %[[LOW:.*]] = arith.maxui %[[BLOCKS]], %c1 : index
// CHECK-NEXT:      %[[GRID:.*]] = arith.minui %[[LOW]], %[[CAP]] : index
// CHECK-NEXT:      "gpu.launch_func"(%[[GRID]], %c1, %c1, %[[B]], %c1, %c1, %[[NOSMEM]], %n, %x, %out) <{kernel = @kernels::@scale_elementwise_0
// CHECK-NEXT:      func.return %out : memref<?x4xf32>
// CHECK:         "gpu.module"() <{sym_name = "kernels"}> ({
// CHECK-NEXT:      "gpu.func"() <{function_type = (index, memref<?x4xf32>, memref<?x4xf32>) -> (), kernel}> ({
// CHECK-NEXT:      ^bb0(%n: index, %x: memref<?x4xf32>, %out: memref<?x4xf32>):
// CHECK:             %[[BID:.*]] = "gpu.block_id"() <{dimension = #gpu<dim x>}> : () -> index
// CHECK:             %[[TID:.*]] = "gpu.thread_id"() <{dimension = #gpu<dim x>}> : () -> index
// CHECK:             %[[GDIM:.*]] = "gpu.grid_dim"() <{dimension = #gpu<dim x>}> : () -> index
// CHECK:             %two = arith.constant 2.000000e+00 : f32
// CHECK:             %[[FIRST0:.*]] = arith.muli %[[BID]], %{{.*}} : index
// CHECK-NEXT:        %[[FIRST:.*]] = arith.addi %[[FIRST0]], %[[TID]] : index
// CHECK-NEXT:        %[[STRIDE:.*]] = arith.muli %[[GDIM]], %{{.*}} : index
// CHECK-NEXT:        %[[TOTAL:.*]] = arith.muli %n, %c4 : index
// CHECK-NEXT:        scf.for %[[I:[0-9]+]] = %[[FIRST]] to %[[TOTAL]] step %[[STRIDE]] {
// CHECK-NEXT:          %[[COL:.*]] = arith.remui %[[I]], %c4 : index
// CHECK-NEXT:          %[[ROW:[0-9]+]] = arith.divui %[[I]], %c4 : index
// CHECK-NEXT:          %a = memref.load %x[%[[ROW]], %[[COL]]] : memref<?x4xf32>
// CHECK-NEXT:          %b = arith.mulf %a, %two : f32
// CHECK-NEXT:          memref.store %b, %out[%[[ROW]], %[[COL]]] : memref<?x4xf32>
// CHECK-NEXT:        }
// CHECK-NEXT:        "gpu.return"() : () -> ()
// CHECK-NEXT:      }) {sym_name = "scale_elementwise_0", gpu.known_block_size = array<i32: 256, 1, 1>, tck.kind = "elementwise"} : () -> ()

// -----

// A reduction per row: blocks stride over the rows (a block-uniform loop), threads
// fold strided elements from the op's identity, then a tree in a block-scoped
// buffer (placement pending: #tck.memspace<global>); thread 0 folds in the initial
// value and stores.

func.func @row_max(%x: memref<?x?xf64>) -> memref<?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x?xf64>
  %m = memref.dim %x, %c1 : memref<?x?xf64>
  %out = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %low = arith.constant 0xFFF0000000000000 : f64
    %r = scf.for %j = %c0 to %m step %c1 iter_args(%acc = %low) -> (f64) {
      %a = memref.load %x[%i, %j] : memref<?x?xf64>
      %b = arith.maximumf %acc, %a : f64
      scf.yield %b : f64
    }
    memref.store %r, %out[%i] : memref<?xf64>
  }
  func.return %out : memref<?xf64>
}

// CHECK-LABEL:   func.func @row_max(
// CHECK:           "gpu.launch_func"({{.*}}) <{kernel = @kernels::@row_max_reduce_rows_0
// CHECK:         ^bb0(%n: index, %m: index, %x: memref<?x?xf64>, %out: memref<?xf64>):
// CHECK:           %[[BID:.*]] = "gpu.block_id"() <{dimension = #gpu<dim x>}> : () -> index
// CHECK-NEXT:      %[[GDIM:.*]] = "gpu.grid_dim"() <{dimension = #gpu<dim x>}> : () -> index
// CHECK-NEXT:      %[[TID:.*]] = "gpu.thread_id"() <{dimension = #gpu<dim x>}> : () -> index
// CHECK-NEXT:      %[[B:.*]] = arith.constant 256 : index
// CHECK-NEXT:      %partial = memref.alloc() : memref<256xf64, #tck.memspace<global>>
// CHECK:           scf.for %[[ROW:[0-9]+]] = %[[BID]] to %n step %[[GDIM]] {
// CHECK-NEXT:        %low = arith.constant 0xfff0000000000000 : f64
// CHECK-NEXT:        %[[START:.*]] = arith.constant 0xfff0000000000000 : f64
// CHECK-NEXT:        %[[MINE:.*]] = scf.for %[[J:[0-9]+]] = %[[TID]] to %m step %[[B]] iter_args(%[[ACC:.*]] = %[[START]]) -> (f64) {
// CHECK-NEXT:          %a = memref.load %x[%[[ROW]], %[[J]]] : memref<?x?xf64>
// CHECK-NEXT:          %b = arith.maximumf %[[ACC]], %a : f64
// CHECK-NEXT:          scf.yield %b : f64
// CHECK-NEXT:        }
// CHECK-NEXT:        memref.store %[[MINE]], %partial[%[[TID]]] : memref<256xf64, #tck.memspace<global>>
// CHECK-NEXT:        "gpu.barrier"() : () -> ()
// CHECK-NEXT:        scf.for %[[LEVEL:[0-9]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:          %[[HALF:.*]] = arith.shrui %{{.*}}, %[[LEVEL]] : index
// CHECK-NEXT:          %[[ACTIVE:.*]] = arith.cmpi ult, %[[TID]], %[[HALF]] : index
// CHECK-NEXT:          scf.if %[[ACTIVE]] {
// CHECK-NEXT:            %[[OTHER:.*]] = arith.addi %[[TID]], %[[HALF]] : index
// CHECK-NEXT:            %[[P:.*]] = memref.load %partial[%[[TID]]]
// CHECK-NEXT:            %[[Q:.*]] = memref.load %partial[%[[OTHER]]]
// CHECK-NEXT:            %[[PQ:.*]] = arith.maximumf %[[P]], %[[Q]] : f64
// CHECK-NEXT:            memref.store %[[PQ]], %partial[%[[TID]]]
// CHECK-NEXT:          }
// CHECK-NEXT:          "gpu.barrier"() : () -> ()
// CHECK-NEXT:        }
// CHECK-NEXT:        %[[TOTAL:.*]] = memref.load %partial[%{{.*}}]
// CHECK-NEXT:        %[[FIRST:.*]] = arith.cmpi eq, %[[TID]], %{{.*}} : index
// CHECK-NEXT:        scf.if %[[FIRST]] {
// CHECK-NEXT:          %[[R:.*]] = arith.maximumf %low, %[[TOTAL]] : f64
// CHECK-NEXT:          memref.store %[[R]], %out[%[[ROW]]] : memref<?xf64>
// CHECK-NEXT:        }
// CHECK-NEXT:        "gpu.barrier"() : () -> ()
// CHECK-NEXT:      } {tck.block_loop}
// CHECK:         tck.kind = "reduce_rows"

// -----

// A full reduction: blocks reduce grid-strided chunks into per-block partials
// (global memory, at most 256 blocks), then one block reduces the partials; the
// scalar statement after the loop runs at the end of the second kernel.

func.func @total(%x: memref<?xf32>) -> memref<f32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 0.5 : f32
  %n = memref.dim %x, %c0 : memref<?xf32>
  %out = memref.alloc() : memref<f32>
  %s = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f32) {
    %a = memref.load %x[%i] : memref<?xf32>
    %b = arith.addf %acc, %a : f32
    scf.yield %b : f32
  }
  %h = arith.mulf %s, %half : f32
  memref.store %h, %out[] : memref<f32>
  func.return %out : memref<f32>
}

// CHECK-LABEL:   func.func @total(
// CHECK:           %[[BLOCKS:.*]] = arith.minui
// CHECK-NEXT:      %[[PARTIALS:.*]] = memref.alloc(%[[BLOCKS]]) : memref<?xf32>
// CHECK-NEXT:      "gpu.launch_func"(%[[BLOCKS]], %c1, %c1, {{.*}}, %n, %x, %[[PARTIALS]]) <{kernel = @kernels::@total_reduce_all_partial_0
// CHECK-NEXT:      "gpu.launch_func"(%c1, %c1, %c1, {{.*}}, %[[PARTIALS]], %[[BLOCKS]], %out) <{kernel = @kernels::@total_reduce_all_final_1
// CHECK-NEXT:      memref.dealloc %[[PARTIALS]] : memref<?xf32>
// CHECK-NEXT:      func.return %out : memref<f32>
// CHECK:         tck.kind = "reduce_all_partial"
// CHECK:             %[[SUM:.*]] = arith.addf %zero, %{{.*}} : f32
// CHECK-NEXT:        %h = arith.mulf %[[SUM]], %half : f32
// CHECK-NEXT:        memref.store %h, %out[] : memref<f32>
// CHECK-NEXT:      }
// CHECK:         tck.kind = "reduce_all_final"

// -----

// Sums over a leading axis accumulate in memory (out[j] += x[i, j]): a block per
// column; thread 0 adds the block's total to what the fill kernel stored.

func.func @column_sums(%x: memref<?x?xf64>) -> memref<?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f64
  %n = memref.dim %x, %c0 : memref<?x?xf64>
  %m = memref.dim %x, %c1 : memref<?x?xf64>
  %out = memref.alloc(%m) : memref<?xf64>
  scf.for %j = %c0 to %m step %c1 {
    memref.store %zero, %out[%j] : memref<?xf64>
  }
  scf.for %i = %c0 to %n step %c1 {
    scf.for %j = %c0 to %m step %c1 {
      %acc = memref.load %out[%j] : memref<?xf64>
      %a = memref.load %x[%i, %j] : memref<?x?xf64>
      %b = arith.addf %acc, %a : f64
      memref.store %b, %out[%j] : memref<?xf64>
    }
  }
  func.return %out : memref<?xf64>
}

// CHECK-LABEL:   func.func @column_sums(
// CHECK:           @kernels::@column_sums_elementwise_0
// CHECK:           @kernels::@column_sums_reduce_rows_1
// CHECK:         tck.kind = "elementwise"
// CHECK:           scf.for %[[COLUMN:[0-9]+]] = %{{.*}} to %m step %{{.*}} {
// CHECK:             scf.for %[[I:[0-9]+]] = %{{.*}} to %n step %{{.*}} iter_args
// CHECK-NEXT:          %a = memref.load %x[%[[I]], %[[COLUMN]]] : memref<?x?xf64>
// CHECK:               %acc = memref.load %out[%[[COLUMN]]] : memref<?xf64>
// CHECK-NEXT:          %[[NEW:.*]] = arith.addf %acc, %{{.*}} : f64
// CHECK-NEXT:          memref.store %[[NEW]], %out[%[[COLUMN]]] : memref<?xf64>

// -----

// Softmax-like rows: a reduction, then nests over the same rows that read the
// row's result only: one kernel, a stage per nest, a barrier after each.

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
// CHECK:           %max = memref.alloc(%n) : memref<?xf64>
// CHECK-NEXT:      %out = memref.alloc(%n, %m) : memref<?x?xf64>
// CHECK:           "gpu.launch_func"({{.*}}) <{kernel = @kernels::@shift_reduce_rows_0
// CHECK-NOT:       gpu.launch_func
// CHECK:           func.return %out
// CHECK:           scf.for %[[ROW:[0-9]+]] = {{.*}} {
// CHECK:             memref.store %{{.*}}, %max[%[[ROW]]] : memref<?xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:      "gpu.barrier"() : () -> ()
// CHECK-NEXT:      scf.for %[[J:[0-9]+]] = %{{.*}} to %m step %{{.*}} {
// CHECK-NEXT:        %[[A:.*]] = memref.load %x[%[[ROW]], %[[J]]] : memref<?x?xf64>
// CHECK-NEXT:        %[[B:.*]] = memref.load %max[%[[ROW]]] : memref<?xf64>
// CHECK-NEXT:        %d = arith.subf %[[A]], %[[B]] : f64
// CHECK-NEXT:        memref.store %d, %out[%[[ROW]], %[[J]]] : memref<?x?xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:      "gpu.barrier"() : () -> ()
// CHECK-NEXT:    } {tck.block_loop}

// -----

// Matrix products run on the GPU (no BLAS call): 16 x 16 threads per block, one
// block per 16 x 16 tile of C, two block-scoped tiles.

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

// CHECK-NOT:     tensorc_gemm
// CHECK-LABEL:   func.func @matmul(
// CHECK:           %[[T:.*]] = arith.constant 16 : index
// CHECK:           %[[COLS:.*]] = arith.minui
// CHECK:           %[[ROWS:.*]] = arith.minui
// CHECK-NEXT:      "gpu.launch_func"(%[[COLS]], %[[ROWS]], %c1, %[[T]], %[[T]], %c1, %{{.*}}, %a, %b, %c, %m, %n, %k) <{kernel = @kernels::@matmul_matmul_0
// CHECK:           %a_tile = memref.alloc() : memref<16x16xf32, #tck.memspace<global>>
// CHECK-NEXT:      %b_tile = memref.alloc() : memref<16x16xf32, #tck.memspace<global>>
// CHECK:           memref.store %{{.*}}, %a_tile[%{{.*}}, %{{.*}}]
// CHECK-NEXT:      memref.store %{{.*}}, %b_tile[%{{.*}}, %{{.*}}]
// CHECK-NEXT:      "gpu.barrier"() : () -> ()
// CHECK:           "gpu.barrier"() : () -> ()
// CHECK:         gpu.known_block_size = array<i32: 16, 16, 1>, tck.kind = "matmul"
// CHECK-NOT:     tensorc_gemm

// -----

// A check inside a loop (gather indices) becomes an `and` reduction the host
// asserts before the gather's own kernel runs.

func.func @gather(%x: memref<?xf64>, %i: memref<?xi64>) -> memref<?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf64>
  %k = memref.dim %i, %c0 : memref<?xi64>
  %out = memref.alloc(%k) : memref<?xf64>
  scf.for %j = %c0 to %k step %c1 {
    %raw = memref.load %i[%j] : memref<?xi64>
    %idx = arith.index_cast %raw : i64 to index
    %ok = arith.cmpi ult, %idx, %n : index
    cf.assert %ok, "tc.gather (created at model.py:3): index out of range"
    %v = memref.load %x[%idx] : memref<?xf64>
    memref.store %v, %out[%j] : memref<?xf64>
  }
  func.return %out : memref<?xf64>
}

// CHECK-LABEL:   func.func @gather(
// CHECK:           %[[FLAG:.*]] = memref.alloc() : memref<i1>
// CHECK:           @kernels::@gather_check_partial_0
// CHECK-NEXT:      "gpu.launch_func"({{.*}}, %[[FLAG]]) <{kernel = @kernels::@gather_check_final_1
// CHECK-NEXT:      memref.dealloc
// CHECK-NEXT:      %[[OK:.*]] = memref.load %[[FLAG]][] : memref<i1>
// CHECK-NEXT:      cf.assert %[[OK]], "tc.gather (created at model.py:3): index out of range"
// CHECK:           @kernels::@gather_elementwise_2
// CHECK:         ^bb0(%k: index, %i: memref<?xi64>, %n: index, %{{.*}}: memref<?xi1>):
// CHECK:             %ok = arith.cmpi ult, %idx, %n : index
// CHECK-NEXT:        %{{.*}} = arith.andi %{{.*}}, %ok : i1
// CHECK-NOT:     cf.assert

// -----

// M[idx[j]] += u[j] with data-dependent indices: an atomic add, all iterations in
// parallel.

func.func @scatter_add(%x: memref<?xf64>, %i: memref<?xi64>, %u: memref<?xf64>) -> memref<?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %k = memref.dim %i, %c0 : memref<?xi64>
  %n = memref.dim %x, %c0 : memref<?xf64>
  %out = memref.alloc(%n) : memref<?xf64>
  scf.for %j = %c0 to %k step %c1 {
    %raw = memref.load %i[%j] : memref<?xi64>
    %idx = arith.index_cast %raw : i64 to index
    %old = memref.load %out[%idx] : memref<?xf64>
    %v = memref.load %u[%j] : memref<?xf64>
    %new = arith.addf %old, %v : f64
    memref.store %new, %out[%idx] : memref<?xf64>
  }
  func.return %out : memref<?xf64>
}

// CHECK-LABEL:   func.func @scatter_add(
// CHECK:           @kernels::@scatter_add_elementwise_0
// CHECK:             %v = memref.load %u[%{{.*}}] : memref<?xf64>
// CHECK-NEXT:        %{{.*}} = "memref.atomic_rmw"(%v, %out, %idx) <{kind = 0 : i64}> : (f64, memref<?xf64>, index) -> f64

// -----

// Iterations that depend on each other (a running sum) run in one thread, with a
// remark on the tensorc.gpu logger.

func.func @running_sum(%x: memref<?xf64>) -> memref<?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf64>
  %last = arith.subi %n, %c1 : index
  %out = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %last step %c1 {
    %next = arith.addi %i, %c1 : index
    %a = memref.load %out[%i] : memref<?xf64>
    %b = memref.load %x[%next] : memref<?xf64>
    %s = arith.addf %a, %b : f64
    memref.store %s, %out[%next] : memref<?xf64>
  }
  func.return %out : memref<?xf64>
}

// CHECK-LABEL:   func.func @running_sum(
// CHECK:           "gpu.launch_func"(%c1, %c1, %c1, %c1, %c1, %c1, {{.*}}) <{kernel = @kernels::@running_sum_serial_0
// CHECK:           scf.for %i = %{{.*}} to %last step %{{.*}} {
// CHECK:         gpu.known_block_size = array<i32: 1, 1, 1>, tck.kind = "serial"
// REMARK: tc-outline-gpu-kernels: a loop nest of @running_sum runs in one GPU thread: its iterations depend on each other
