// RUN: tensorc-opt %s -p tc-bufferize,tc-fuse-loops,tc-place-buffers -t c -o %t.c
// RUN: filecheck %s --input-file=%t.c
// RUN: cc -std=c11 -fwrapv -Wall -Werror -c %t.c -o %t.o

// A scan's step is a private function: printed as a static function with the
// entry ABI, called once per step with its memrefs packed; a failed step ends the
// caller with the step's status, and the buffers a step returns are freed.
func.func private @step(%x: tensor<3xf64>, %h: tensor<3xf64>) -> (tensor<3xf64>) {
  %a = tc.add %h, %x : tensor<3xf64>
  func.return %a : tensor<3xf64>
}
func.func @main(%x: tensor<?x3xf64>, %h0: tensor<3xf64>, %n: tensor<i64>) -> tensor<?x3xf64> {
  %hs = tc.scan @step(%n) sequences(%x : tensor<?x3xf64>) inits(%h0 : tensor<3xf64>) -> tensor<?x3xf64>
  func.return %hs : tensor<?x3xf64>
}

// CHECK:       static int tensorc_function_step(void *const *in_data, const int64_t *in_shapes, void **out_data, int64_t *out_shapes, char *err, int64_t err_len);
// CHECK-LABEL: static int tensorc_function_step(void *const *in_data, const int64_t *in_shapes, void **out_data, int64_t *out_shapes, char *err, int64_t err_len) {
// CHECK:           out_data[0] = {{.*}};
// CHECK-LABEL: TC_ENTRY int tensorc_entry_main(
// CHECK:           double *[[FIRST:returned_[0-9]+]] = NULL;
// CHECK-NEXT:      double *[[EACH:returned_[0-9]+]] = NULL;
// CHECK:           [[FIRST]] = (double *)call_out_{{[0-9]+}}[0];
// CHECK:           free([[FIRST]]);
// CHECK-NEXT:      [[FIRST]] = NULL;
// CHECK-NEXT:      for (int64_t [[T:i_[0-9]+]] = 1; [[T]] < {{.*}}; [[T]] += 1) {
// CHECK:               void *const [[IN:call_in_[0-9]+]][] = {(void *){{.*}}, (void *){{.*}}};
// CHECK:               const int [[STATUS:call_status_[0-9]+]] = tensorc_function_step([[IN]], {{.*}}, err, err_len);
// CHECK-NEXT:          if ([[STATUS]] != 0) {
// CHECK-NEXT:              status = [[STATUS]];
// CHECK-NEXT:              goto fail;
// CHECK-NEXT:          }
// CHECK-NEXT:          [[EACH]] = (double *)call_out_{{[0-9]+}}[0];
// CHECK:           free([[EACH]]);
// CHECK-NEXT:      [[EACH]] = NULL;
// CHECK-NEXT:  }
// CHECK:       fail:
// CHECK:           free([[FIRST]]);
// CHECK-NEXT:      free([[EACH]]);
