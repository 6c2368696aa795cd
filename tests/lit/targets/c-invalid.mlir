// RUN: not tensorc-opt %s -t c 2>&1 | filecheck %s

// An op the C emitter does not know is an error, never guessed C.
func.func @main(%a: memref<2xf32>) -> memref<2xf32> {
  %c0 = arith.constant 0 : index
  %x = memref.load %a[%c0] : memref<2xf32>
  %y = memref.alloca() : memref<2xf32>
  %o = memref.alloc() : memref<2xf32>
  func.return %o : memref<2xf32>
}

// CHECK: tensorc.errors.LoweringError: the C emitter cannot lower 'memref.alloca'
