// RUN: tensorc-opt %s -p tc-bufferize | filecheck %s
// RUN: tensorc-opt %s -p tc-bufferize | tensorc-opt | filecheck %s
// RUN: tensorc-opt %s -p 'tc-bufferize{views=true}' | filecheck %s --check-prefix=VIEWS

// The BLAS runtime function is declared once, at the top of the module.
// CHECK:       func.func private @tensorc_gemm_f64(memref<?x?xf64>, memref<?x?xf64>, memref<?x?xf64>, index, index, index, index, index)

// Elementwise ops: one scf.for nest over the result dims, a run-time check that
// the dynamic dims of the operands agree, a scalar body from ELEMENTWISE.

func.func @add(%x: tensor<?x4xf64>, %y: tensor<?x4xf64>) -> tensor<?x4xf64> {
  %z = tc.add %x, %y : tensor<?x4xf64> loc("model.py":12:5)
  func.return %z : tensor<?x4xf64>
}

// CHECK-LABEL: func.func @add(%x: memref<?x4xf64>, %y: memref<?x4xf64>) -> memref<?x4xf64> {
// CHECK-DAG:     %[[ONE:.*]] = arith.constant 1 : index
// CHECK-DAG:     %[[FOUR:.*]] = arith.constant 4 : index
// CHECK-DAG:     %[[ZERO:.*]] = arith.constant 0 : index
// CHECK:         %[[N:.*]] = memref.dim %x, %[[ZERO]] : memref<?x4xf64>
// CHECK-NEXT:    %[[M:.*]] = memref.dim %y, %[[ZERO]] : memref<?x4xf64>
// CHECK-NEXT:    %[[SAME:.*]] = arith.cmpi eq, %[[N]], %[[M]] : index
// CHECK-NEXT:    cf.assert %[[SAME]], "tc.add (created at model.py:12): lhs dim 0 differs from rhs dim 0"
// CHECK-NEXT:    %[[OUT:.*]] = memref.alloc(%[[N]]) : memref<?x4xf64>
// CHECK-NEXT:    scf.for %[[I:.*]] = %[[ZERO]] to %[[N]] step %[[ONE]] {
// CHECK-NEXT:      scf.for %[[J:.*]] = %[[ZERO]] to %[[FOUR]] step %[[ONE]] {
// CHECK-NEXT:        %[[A:.*]] = memref.load %x[%[[I]], %[[J]]] : memref<?x4xf64>
// CHECK-NEXT:        %[[B:.*]] = memref.load %y[%[[I]], %[[J]]] : memref<?x4xf64>
// CHECK-NEXT:        %[[S:.*]] = arith.addf %[[A]], %[[B]] : f64
// CHECK-NEXT:        memref.store %[[S]], %[[OUT]][%[[I]], %[[J]]] : memref<?x4xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[OUT]] : memref<?x4xf64>

// A splat constant broadcast to a dynamic shape is a scalar in the consumer's loop
// (no buffer, no fill loop); dims from tc.dim need no check.

func.func @scale(%x: tensor<?xf32>) -> tensor<?xf32> {
  %n = tc.dim %x[0] : tensor<?xf32>
  %c = tc.constant dense<2.0> : tensor<f32>
  %b = tc.broadcast %c(%n) : tensor<f32>, tensor<i64> -> tensor<?xf32>
  %y = tc.mul %x, %b : tensor<?xf32>
  func.return %y : tensor<?xf32>
}

// CHECK-LABEL: func.func @scale(%x: memref<?xf32>) -> memref<?xf32> {
// CHECK-NOT:     cf.assert
// CHECK:         %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK-NEXT:    scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:      %[[A:.*]] = memref.load %x[%[[I]]] : memref<?xf32>
// CHECK-NEXT:      %[[C:.*]] = arith.constant 2.000000e+00 : f32
// CHECK-NEXT:      %[[P:.*]] = arith.mulf %[[A]], %[[C]] : f32
// CHECK-NEXT:      memref.store %[[P]], %[[OUT]][%[[I]]] : memref<?xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[OUT]] : memref<?xf32>

// Reductions: outer loops over the kept dims, the accumulator carried through the
// inner loops over the reduced dims.

func.func @row_sums(%x: tensor<?x?xf64>) -> tensor<?xf64> {
  %s = tc.sum %x axes = array<i64: 1> : tensor<?x?xf64> -> tensor<?xf64>
  func.return %s : tensor<?xf64>
}

// CHECK-LABEL: func.func @row_sums(%x: memref<?x?xf64>) -> memref<?xf64> {
// CHECK:         %[[N:.*]] = memref.dim %x, %{{.*}} : memref<?x?xf64>
// CHECK-NEXT:    %[[K:.*]] = memref.dim %x, %{{.*}} : memref<?x?xf64>
// CHECK-NEXT:    %[[OUT:.*]] = memref.alloc(%[[N]]) : memref<?xf64>
// CHECK-NEXT:    scf.for %[[I:.*]] = %{{.*}} to %[[N]] step %{{.*}} {
// CHECK-NEXT:      %[[INIT:.*]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      %[[SUM:.*]] = scf.for %[[J:.*]] = %{{.*}} to %[[K]] step %{{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f64) {
// CHECK-NEXT:        %[[V:.*]] = memref.load %x[%[[I]], %[[J]]] : memref<?x?xf64>
// CHECK-NEXT:        %[[NEXT:.*]] = arith.addf %[[ACC]], %[[V]] : f64
// CHECK-NEXT:        scf.yield %[[NEXT]] : f64
// CHECK-NEXT:      }
// CHECK-NEXT:      memref.store %[[SUM]], %[[OUT]][%[[I]]] : memref<?xf64>
// CHECK-NEXT:    }

// max has no identity: an empty reduction (with a non-empty result) is an error.
// A reduced leading dim is accumulated in place: the result starts at -inf and the
// input is read once in row-major order.

func.func @col_max(%x: tensor<?x?xf32>) -> tensor<?xf32> {
  %m = tc.max %x axes = array<i64: 0> : tensor<?x?xf32> -> tensor<?xf32>
  func.return %m : tensor<?xf32>
}

// CHECK-LABEL: func.func @col_max(%x: memref<?x?xf32>) -> memref<?xf32> {
// CHECK:         %[[ROWS:.*]] = memref.dim %x, %{{.*}} : memref<?x?xf32>
// CHECK-NEXT:    %[[COLS:.*]] = memref.dim %x, %{{.*}} : memref<?x?xf32>
// CHECK:         cf.assert %{{.*}}, "tc.max: cannot reduce an empty set of elements (no identity)"
// CHECK-NEXT:    %[[OUT:.*]] = memref.alloc(%[[COLS]]) : memref<?xf32>
// CHECK-NEXT:    scf.for %[[J:.*]] = %{{.*}} to %[[COLS]] step %{{.*}} {
// CHECK-NEXT:      %[[NEGINF:.*]] = arith.constant 0xff800000 : f32
// CHECK-NEXT:      memref.store %[[NEGINF]], %[[OUT]][%[[J]]] : memref<?xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    scf.for %[[I:.*]] = %{{.*}} to %[[ROWS]] step %{{.*}} {
// CHECK-NEXT:      scf.for %[[K:.*]] = %{{.*}} to %[[COLS]] step %{{.*}} {
// CHECK-NEXT:        %[[ACC:.*]] = memref.load %[[OUT]][%[[K]]] : memref<?xf32>
// CHECK-NEXT:        %[[V:.*]] = memref.load %x[%[[I]], %[[K]]] : memref<?x?xf32>
// CHECK-NEXT:        %[[MAX:.*]] = arith.maximumf %[[ACC]], %[[V]] : f32
// CHECK-NEXT:        memref.store %[[MAX]], %[[OUT]][%[[K]]] : memref<?xf32>

// float64 matrix products call the BLAS runtime function; a 1-D operand is passed
// as a K x 1 matrix.

func.func @matvec(%a: tensor<?x?xf64>, %v: tensor<?xf64>) -> tensor<?xf64> {
  %y = tc.matmul %a, %v : tensor<?x?xf64>, tensor<?xf64> -> tensor<?xf64>
  func.return %y : tensor<?xf64>
}

// CHECK-LABEL: func.func @matvec(
// CHECK:         cf.assert %{{.*}}, "tc.matmul: lhs dim 1 differs from rhs dim 0"
// CHECK:         %[[B:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?xf64>
// CHECK:         %[[C:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?xf64>
// CHECK-NEXT:    func.call @tensorc_gemm_f64(%a, %[[B]], %[[C]], %{{.*}}) : (memref<?x?xf64>, memref<?x?xf64>, memref<?x?xf64>, index, index, index, index, index) -> ()

// Non-splat constants are constant globals; a returned global is copied.

func.func @table() -> tensor<3xi32> {
  %t = tc.constant dense<[1, 2, 3]> : tensor<3xi32>
  func.return %t : tensor<3xi32>
}

// CHECK:       "memref.global"() <{sym_name = "tc_constant_0", type = memref<3xi32>, initial_value = dense<[1, 2, 3]> : tensor<3xi32>, sym_visibility = "private", constant}>
// CHECK-LABEL: func.func @table() -> memref<3xi32> {
// CHECK:         %[[G:.*]] = memref.get_global @tc_constant_0 : memref<3xi32>
// CHECK-NEXT:    %[[OUT:.*]] = memref.alloc() : memref<3xi32>
// CHECK-NEXT:    scf.for
// CHECK-NEXT:      memref.load %[[G]]
// CHECK-NEXT:      memref.store
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[OUT]] : memref<3xi32>

// tc.im2col: one nest over the patches (n, oh, ow, c, kh, kw); the window count
// of a dynamic image dim is computed after checking that the kernel fits; a
// padded dim reads the image under an scf.if (one unsigned compare per dim).

func.func @im2col(%x: tensor<?x3x?x8xf32>) -> tensor<?x?x7x3x3x2xf32> {
  %p = tc.im2col %x kernel = array<i64: 3, 2> strides = array<i64: 2, 1> dilations = array<i64: 1, 2> pads = array<i64: 0, 1, 1, 0> : tensor<?x3x?x8xf32> -> tensor<?x?x7x3x3x2xf32> loc("net.py":3:1)
  func.return %p : tensor<?x?x7x3x3x2xf32>
}

// CHECK-LABEL: func.func @im2col(%x: memref<?x3x?x8xf32>) -> memref<?x?x7x3x3x2xf32> {
// CHECK:         %{{.*}} = memref.dim %x, %{{.*}} : memref<?x3x?x8xf32>
// CHECK-NEXT:    %[[H:.*]] = memref.dim %x, %{{.*}} : memref<?x3x?x8xf32>
// CHECK-NEXT:    %[[PADDED:.*]] = arith.addi %[[H]], %{{.*}} : index
// CHECK-NEXT:    %[[FITS:.*]] = arith.cmpi sge, %[[PADDED]], %{{.*}} : index
// CHECK-NEXT:    cf.assert %[[FITS]], "tc.im2col (created at net.py:3): the kernel spans more elements along image dim 2 than the padded image has (padded size, kernel extent)"
// CHECK:         arith.divsi
// CHECK-NEXT:    %[[OH:.*]] = arith.addi %{{.*}}, %{{.*}} : index
// CHECK-NEXT:    %[[OUT:.*]] = memref.alloc(%{{.*}}, %[[OH]]) : memref<?x?x7x3x3x2xf32>
// CHECK:         scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step
// CHECK-NEXT:      scf.for %[[R:.*]] = %{{.*}} to %[[OH]] step
// CHECK-NEXT:        scf.for %[[Q:.*]] = %{{.*}} to %{{.*}} step
// CHECK-NEXT:          scf.for %[[C:.*]] = %{{.*}} to %{{.*}} step
// CHECK-NEXT:            scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK-NEXT:              scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
// CHECK:                     %[[IN_H:.*]] = arith.cmpi ult, %[[ROW:.*]], %[[H]] : index
// CHECK-NEXT:                %[[IN_W:.*]] = arith.cmpi ult, %[[COL:.*]], %{{.*}} : index
// CHECK-NEXT:                %[[INSIDE:.*]] = arith.andi %[[IN_H]], %[[IN_W]] : i1
// CHECK-NEXT:                %[[V:.*]] = scf.if %[[INSIDE]] -> (f32) {
// CHECK-NEXT:                  %[[X:.*]] = memref.load %x[%[[N]], %[[C]], %[[ROW]], %[[COL]]] : memref<?x3x?x8xf32>
// CHECK-NEXT:                  scf.yield %[[X]] : f32
// CHECK-NEXT:                } else {
// CHECK-NEXT:                  scf.yield %{{.*}} : f32
// CHECK-NEXT:                }
// CHECK-NEXT:                memref.store %[[V]], %[[OUT]][%[[N]], %[[R]], %[[Q]], %[[C]], %[[I]], %[[J]]] : memref<?x?x7x3x3x2xf32>

// tc.col2im gathers: a nest over the image (n, c, h, w) carries a sum through the
// kernel offsets (kh, kw), adding the patch element that read (h, w) where one
// exists (stride 2: the offset must divide exactly; quotient in [0, OH)).

func.func @col2im(%p: tensor<?x?x4x8x3x3xf64>, %h: tensor<i64>) -> tensor<?x8x?x8xf64> {
  %x = tc.col2im %p(%h) kernel = array<i64: 3, 3> strides = array<i64: 2, 2> dilations = array<i64: 1, 1> pads = array<i64: 1, 1, 1, 1> : tensor<?x?x4x8x3x3xf64>, tensor<i64> -> tensor<?x8x?x8xf64> loc("net.py":9:1)
  func.return %x : tensor<?x8x?x8xf64>
}

// CHECK-LABEL: func.func @col2im(%p: memref<?x?x4x8x3x3xf64>, %h: memref<i64>) -> memref<?x8x?x8xf64> {
// CHECK:         cf.assert %{{.*}}, "tc.col2im (created at net.py:9): requested size of result dim 2 is negative"
// CHECK:         cf.assert %{{.*}}, "tc.col2im (created at net.py:9): the kernel spans more elements along image dim 2 than the padded image has (padded size, kernel extent)"
// CHECK:         cf.assert %{{.*}}, "tc.col2im (created at net.py:9): input dim 1 differs from the window count of result dim 2"
// CHECK-NEXT:    %[[OUT:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x8x?x8xf64>
// CHECK:         scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step
// CHECK-NEXT:      scf.for %[[C:.*]] = %{{.*}} to %{{.*}} step
// CHECK-NEXT:        scf.for %[[Y:.*]] = %{{.*}} to %{{.*}} step
// CHECK-NEXT:          scf.for %[[X:.*]] = %{{.*}} to %{{.*}} step
// CHECK-NEXT:            %[[SUM:.*]] = scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[A:.*]] = %{{.*}}) -> (f64) {
// CHECK-NEXT:              %[[ROW_SUM:.*]] = scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[B:.*]] = %[[A]]) -> (f64) {
// CHECK:                     %[[R:.*]] = arith.divsi %{{.*}}, %{{.*}} : index
// CHECK-NEXT:                %[[REM:.*]] = arith.remsi %{{.*}}, %{{.*}} : index
// CHECK:                     %[[V:.*]] = scf.if %{{.*}} -> (f64) {
// CHECK-NEXT:                  %[[E:.*]] = memref.load %p[%[[N]], %[[R]], %{{.*}}, %[[C]], %[[I]], %[[J]]] : memref<?x?x4x8x3x3xf64>
// CHECK-NEXT:                  %[[ADDED:.*]] = arith.addf %[[B]], %[[E]] : f64
// CHECK-NEXT:                  scf.yield %[[ADDED]] : f64
// CHECK-NEXT:                } else {
// CHECK-NEXT:                  scf.yield %[[B]] : f64
// CHECK-NEXT:                }
// CHECK-NEXT:                scf.yield %[[V]] : f64
// CHECK-NEXT:              }
// CHECK-NEXT:              scf.yield %[[ROW_SUM]] : f64
// CHECK-NEXT:            }
// CHECK-NEXT:            memref.store %[[SUM]], %[[OUT]][%[[N]], %[[C]], %[[Y]], %[[X]]] : memref<?x8x?x8xf64>

// A scan calls its (bufferized) step function: the first step before the loop
// (its outputs size the stacked result), the others in an scf.for from 1; each
// step copies its sequence element in, and the step's outputs into the stacked
// result and the state buffer, then frees them.

func.func private @step(%x: tensor<3xf64>, %h: tensor<3xf64>) -> (tensor<3xf64>) {
  %a = tc.add %h, %x : tensor<3xf64>
  func.return %a : tensor<3xf64>
}
func.func @scan(%x: tensor<?x3xf64>, %h0: tensor<3xf64>, %n: tensor<i64>) -> tensor<?x3xf64> {
  %hs = tc.scan @step(%n) sequences(%x : tensor<?x3xf64>) inits(%h0 : tensor<3xf64>) -> tensor<?x3xf64> loc("rnn.py":7:1)
  func.return %hs : tensor<?x3xf64>
}

// CHECK-LABEL: func.func private @step(%x: memref<3xf64>, %h: memref<3xf64>) -> memref<3xf64> {
// CHECK-LABEL: func.func @scan(%x: memref<?x3xf64>, %h0: memref<3xf64>, %n: memref<i64>) -> memref<?x3xf64> {
// CHECK:         cf.assert %{{.*}}, "tc.scan (created at rnn.py:7): n_steps must be at least 1"
// CHECK:         cf.assert %{{.*}}, "tc.scan (created at rnn.py:7): sequence #0 has fewer elements than n_steps"
// CHECK:         %[[ELEMENT:.*]] = memref.alloc() : memref<3xf64>
// CHECK-NEXT:    %[[STATE:.*]] = memref.alloc() : memref<3xf64>
// CHECK:         %[[FIRST:.*]] = func.call @step(%[[ELEMENT]], %[[STATE]]) : (memref<3xf64>, memref<3xf64>) -> memref<3xf64>
// CHECK-NEXT:    %[[STACKED:.*]] = memref.alloc(%{{.*}}) : memref<?x3xf64>
// CHECK:         memref.dealloc %[[FIRST]] : memref<3xf64>
// CHECK-NEXT:    scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:           memref.load %x[%[[T]], %{{.*}}] : memref<?x3xf64>
// CHECK:           %[[OUT:.*]] = func.call @step(%[[ELEMENT]], %[[STATE]]) : (memref<3xf64>, memref<3xf64>) -> memref<3xf64>
// CHECK:           memref.store %{{.*}}, %[[STACKED]][%[[T]], %{{.*}}] : memref<?x3xf64>
// CHECK:           memref.store %{{.*}}, %[[STATE]][%{{.*}}] : memref<3xf64>
// CHECK:           memref.dealloc %[[OUT]] : memref<3xf64>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[STACKED]] : memref<?x3xf64>

// A reshape copies element by element (its source and result index each other
// through the row-major linear index); with `views` (the CPU pipeline) it is a
// view of the same storage instead: collapsed to one dim, expanded to the result.

func.func @reshape(%x: tensor<?x6xf64>, %n: tensor<i64>) -> tensor<?xf64> {
  %e = tc.exp %x : tensor<?x6xf64>
  %r = tc.reshape %e(%n) : tensor<?x6xf64>, tensor<i64> -> tensor<?x3xf64>
  %s = tc.sum %r axes = array<i64: 1> : tensor<?x3xf64> -> tensor<?xf64>
  func.return %s : tensor<?xf64>
}

// CHECK-LABEL: func.func @reshape(
// CHECK:         cf.assert %{{.*}}, "tc.reshape: input and result element counts differ"
// CHECK:         %[[COPY:.*]] = memref.alloc(%{{.*}}) : memref<?x3xf64>
// CHECK:           arith.divsi
// CHECK:           memref.store %{{.*}}, %[[COPY]][%{{.*}}, %{{.*}}] : memref<?x3xf64>

// VIEWS-LABEL: func.func @reshape(
// VIEWS:         %[[EXP:.*]] = memref.alloc(%{{.*}}) : memref<?x6xf64>
// VIEWS:         cf.assert %{{.*}}, "tc.reshape: input and result element counts differ"
// VIEWS-NEXT:    %[[FLAT:.*]] = memref.collapse_shape %[[EXP]] {{\[\[}}0 : i64, 1 : i64]] : memref<?x6xf64> into memref<?xf64>
// VIEWS-NEXT:    %[[VIEW:.*]] = memref.expand_shape %[[FLAT]] {{\[\[}}0 : i64, 1 : i64]] output_shape [%{{.*}}, 3] : memref<?xf64> into memref<?x3xf64>
// VIEWS-NOT:     memref.alloc(%{{.*}}) : memref<?x3xf64>
// VIEWS:           memref.load %[[VIEW]][%{{.*}}, %{{.*}}] : memref<?x3xf64>
