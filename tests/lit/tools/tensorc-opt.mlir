// RUN: env COLUMNS=10000 tensorc-opt --help | filecheck %s --check-prefix=HELP
// RUN: tensorc-opt --version | filecheck %s --check-prefix=VERSION
// RUN: tensorc-opt %s -p tc-canonicalize,cse,dce | filecheck %s
// RUN: not tensorc-opt %s -t no-such-target 2>&1 | filecheck %s --check-prefix=TARGET

// tensorc-opt is xdsl-opt plus tensorc's dialect, passes (listed first) and targets.

// HELP: tensorc passes: {{.*}}tc-canonicalize
// HELP: Available targets are: c,
// HELP: Available passes are: {{(tc-[a-z-]+,)*}}tc-canonicalize,
// VERSION: tensorc-opt {{[0-9.]+}} (xdsl 0.74.0)
// TARGET: invalid choice: 'no-such-target' (choose from c,

func.func @main(%x: tensor<?xf64>) -> tensor<?xf64> {
  %0 = tc.neg %x : tensor<?xf64>
  %1 = tc.neg %0 : tensor<?xf64>
  func.return %1 : tensor<?xf64>
}

// CHECK:      func.func @main(%x: tensor<?xf64>) -> tensor<?xf64> {
// CHECK-NEXT:   func.return %x : tensor<?xf64>
