// RUN: tensorc-opt %s --split-input-file -p tc-place-buffers | filecheck %s

// A gradient step on a shared %x: d = x - c is squared and summed, then
// x - 0.2 * d is written into %x (its tc.aliasing_output names result 1). The
// scaled d is written over d (dying, elementwise), the square lives in a slot,
// the dealloc is gone and the returned scalar is allocated early (right after the
// check: an allocation never moves above a check).
func.func @step(%c: memref<?xf64>, %x: memref<?xf64> {tc.aliasing_output = 1 : i64}) -> (memref<f64>, memref<?xf64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f64
  %rate = arith.constant 0.2 : f64
  %n = memref.dim %x, %c0 : memref<?xf64>
  %m = memref.dim %c, %c0 : memref<?xf64>
  %same = arith.cmpi eq, %n, %m : index
  cf.assert %same, "tc.sub: lhs dim 0 differs from rhs dim 0"
  %d = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %a = memref.load %x[%i] : memref<?xf64>
    %b = memref.load %c[%i] : memref<?xf64>
    %s = arith.subf %a, %b : f64
    memref.store %s, %d[%i] : memref<?xf64>
  }
  %sq = memref.alloc(%m) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %a = memref.load %d[%i] : memref<?xf64>
    %s = arith.mulf %a, %a : f64
    memref.store %s, %sq[%i] : memref<?xf64>
  }
  %cost = memref.alloc() : memref<f64>
  %total = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f64) {
    %a = memref.load %sq[%i] : memref<?xf64>
    %s = arith.addf %acc, %a : f64
    scf.yield %s : f64
  }
  memref.store %total, %cost[] : memref<f64>
  memref.dealloc %sq : memref<?xf64>
  %scaled = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %a = memref.load %d[%i] : memref<?xf64>
    %s = arith.mulf %rate, %a : f64
    memref.store %s, %scaled[%i] : memref<?xf64>
  }
  %new = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %a = memref.load %x[%i] : memref<?xf64>
    %b = memref.load %scaled[%i] : memref<?xf64>
    %s = arith.subf %a, %b : f64
    memref.store %s, %new[%i] : memref<?xf64>
  }
  func.return %cost, %new : memref<f64>, memref<?xf64>
}

// CHECK-LABEL: func.func @step(
// CHECK:         cf.assert
// CHECK-NEXT:    %[[COST:.*]] = memref.alloc() : memref<f64>
// CHECK-NEXT:    %[[D:.*]] = memref.alloc(%{{.*}}) {tc.slot = 0 : i64} : memref<?xf64>
// CHECK:         %[[SQ:.*]] = memref.alloc(%{{.*}}) {tc.slot = 1 : i64} : memref<?xf64>
// CHECK-NOT:     memref.dealloc
// CHECK:           %[[SCALED:.*]] = arith.mulf %rate,
// CHECK-NEXT:      memref.store %[[SCALED]], %[[D]][%{{.*}}] : memref<?xf64>
// CHECK:           %[[NEW:.*]] = arith.subf
// CHECK-NEXT:      memref.store %[[NEW]], %x[%{{.*}}] : memref<?xf64>
// CHECK:         func.return %[[COST]], %x : memref<f64>, memref<?xf64>

// -----

// A read of %x after its update: the update moves below the read, which keeps
// seeing the old value, and is then written in place.
func.func @read_after_update(%x: memref<?xf64> {tc.aliasing_output = 1 : i64}) -> (memref<?xf64>, memref<?xf64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f64
  %n = memref.dim %x, %c0 : memref<?xf64>
  %new = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %x[%i] : memref<?xf64>
    %w = arith.addf %v, %one : f64
    memref.store %w, %new[%i] : memref<?xf64>
  }
  %out = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %x[%i] : memref<?xf64>
    %w = arith.mulf %v, %v : f64
    memref.store %w, %out[%i] : memref<?xf64>
  }
  func.return %out, %new : memref<?xf64>, memref<?xf64>
}

// CHECK-LABEL: func.func @read_after_update(
// CHECK:         %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?xf64>
// CHECK-NEXT:    scf.for
// CHECK-NEXT:      memref.load %x
// CHECK-NEXT:      %[[SQUARE:.*]] = arith.mulf
// CHECK-NEXT:      memref.store %[[SQUARE]], %[[OUT]]
// CHECK:         scf.for
// CHECK-NEXT:      memref.load %x
// CHECK-NEXT:      %[[PLUS:.*]] = arith.addf
// CHECK-NEXT:      memref.store %[[PLUS]], %x
// CHECK:         func.return %[[OUT]], %x

// -----

// The new value is checked by a later op that may fail, so it cannot be moved
// below it: written in place first, %x would be half-updated on failure. It
// keeps its own buffer.
func.func @check_after_update(%x: memref<?xf64> {tc.aliasing_output = 0 : i64}) -> memref<?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f64
  %n = memref.dim %x, %c0 : memref<?xf64>
  %new = memref.alloc(%n) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %x[%i] : memref<?xf64>
    %w = arith.negf %v : f64
    memref.store %w, %new[%i] : memref<?xf64>
  }
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %new[%i] : memref<?xf64>
    %ok = arith.cmpf oge, %v, %zero : f64
    cf.assert %ok, "negative"
  }
  func.return %new : memref<?xf64>
}

// CHECK-LABEL: func.func @check_after_update(
// CHECK:         %[[NEW:.*]] = memref.alloc(%{{.*}}) : memref<?xf64>
// CHECK-NOT:     memref.store %{{.*}}, %x
// CHECK:         func.return %[[NEW]] : memref<?xf64>

// -----

// A new value of another size (twice as long): dims not provably equal, so no
// update in place.
func.func @other_size(%x: memref<?xf64> {tc.aliasing_output = 0 : i64}) -> memref<?xf64> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf64>
  %m = arith.addi %n, %n : index
  %new = memref.alloc(%m) : memref<?xf64>
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %x[%i] : memref<?xf64>
    memref.store %v, %new[%i] : memref<?xf64>
  }
  func.return %new : memref<?xf64>
}

// CHECK-LABEL: func.func @other_size(
// CHECK:         %[[NEW:.*]] = memref.alloc(%{{.*}}) : memref<?xf64>
// CHECK:         func.return %[[NEW]] : memref<?xf64>

// -----

// Slots by liveness: %a and %b are live together (two slots); %c, allocated
// after their last use (a reduction, not elementwise), reuses slot 0. %unused
// is erased; the dim of %c reads its size operand.
func.func @slots(%x: memref<?xf32>, %y: memref<?xf32>) -> (memref<f32>, memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %two = arith.constant 2.0 : f32
  %n = memref.dim %x, %c0 : memref<?xf32>
  %m = memref.dim %y, %c0 : memref<?xf32>
  %a = memref.alloc(%n) : memref<?xf32>
  %b = memref.alloc(%n) : memref<?xf32>
  %unused = memref.alloc(%n) : memref<?xf32>
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %x[%i] : memref<?xf32>
    %e = math.exp %v : f32
    memref.store %e, %a[%i] : memref<?xf32>
    memref.store %v, %b[%i] : memref<?xf32>
  }
  %r = memref.alloc() : memref<f32>
  %dot = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f32) {
    %v = memref.load %a[%i] : memref<?xf32>
    %w = memref.load %b[%i] : memref<?xf32>
    %p = arith.mulf %v, %w : f32
    %s = arith.addf %acc, %p : f32
    scf.yield %s : f32
  }
  memref.store %dot, %r[] : memref<f32>
  %c = memref.alloc(%m) : memref<?xf32>
  %cm = memref.dim %c, %c0 : memref<?xf32>
  scf.for %j = %c0 to %cm step %c1 {
    %v = memref.load %y[%j] : memref<?xf32>
    %w = arith.mulf %v, %two : f32
    memref.store %w, %c[%j] : memref<?xf32>
  }
  %q = memref.alloc() : memref<f32>
  %total = scf.for %j = %c0 to %m step %c1 iter_args(%acc = %zero) -> (f32) {
    %v = memref.load %c[%j] : memref<?xf32>
    %s = arith.addf %acc, %v : f32
    scf.yield %s : f32
  }
  memref.store %total, %q[] : memref<f32>
  func.return %r, %q : memref<f32>, memref<f32>
}

// CHECK-LABEL: func.func @slots(
// CHECK:         %[[M:.*]] = memref.dim %y
// CHECK-NEXT:    memref.alloc(%{{.*}}) {tc.slot = 0 : i64} : memref<?xf32>
// CHECK-NEXT:    memref.alloc(%{{.*}}) {tc.slot = 1 : i64} : memref<?xf32>
// CHECK-NOT:     tc.slot = 2
// CHECK:         memref.alloc(%[[M]]) {tc.slot = 0 : i64} : memref<?xf32>
// CHECK-NEXT:    scf.for %{{.*}} = %{{.*}} to %[[M]] step
