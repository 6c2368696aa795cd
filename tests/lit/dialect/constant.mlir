// RUN: tensorc-opt %s | tensorc-opt | filecheck %s
// RUN: tensorc-opt %s | tensorc-opt -p tc-canonicalize | filecheck %s --check-prefix=VALUES

// Float constants that xDSL's list syntax cannot carry (nan, inf, large integral
// values) print as a hex blob and parse back bit-exactly.

func.func @nonfinite() -> (tensor<2xf64>, tensor<3xf32>, tensor<f16>, tensor<2xi1>, tensor<2xi1>) {
  %nan = tc.constant dense<"0x000000000000F87F0000000000000040"> : tensor<2xf64>
  %inf = tc.constant dense<"0x0000807F0000803FA379EB4C"> : tensor<3xf32>
  %half = tc.constant dense<"0x00FC"> : tensor<f16>
  %isnan = tc.ne %nan, %nan : tensor<2xf64> -> tensor<2xi1>
  %finite = tc.constant dense<3.0e+38> : tensor<3xf32>
  %huge = tc.gt %inf, %finite : tensor<3xf32> -> tensor<3xi1>
  %first = tc.slice %huge[] starts = array<i64: 0> stops = array<i64: 2> steps = array<i64: 1> : tensor<3xi1>, -> tensor<2xi1>
  func.return %nan, %inf, %half, %isnan, %first : tensor<2xf64>, tensor<3xf32>, tensor<f16>, tensor<2xi1>, tensor<2xi1>
}

// CHECK-LABEL: func.func @nonfinite()
// CHECK-NEXT:    %nan = tc.constant dense<"0x000000000000F87F0000000000000040"> : tensor<2xf64>
// CHECK-NEXT:    %inf = tc.constant dense<"0x0000807F0000803FA379EB4C"> : tensor<3xf32>
// CHECK-NEXT:    %half = tc.constant dense<"0x00FC"> : tensor<f16>

// VALUES-LABEL: func.func @nonfinite()
// VALUES:         %isnan = tc.constant dense<[true, false]> : tensor<2xi1>
// VALUES-NEXT:    %first = tc.constant dense<[true, false]> : tensor<2xi1>
