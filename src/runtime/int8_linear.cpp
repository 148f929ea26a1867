// Two of libtorch's quantized operators that tch has no binding for (registered in the
// `quantized` namespace, not ATen's), reached through libtorch's operator dispatcher:
//   quantized::linear_prepack: an int8 weight (per-row scales) packed once for fbgemm/oneDNN;
//   quantized::linear_dynamic: fp32 x · weightᵀ with x quantized per call, fp32 result.
// The packed weight is a TorchScript custom-class object, held here as a heap IValue behind an
// opaque pointer. Rust's side is src/runtime/int8_linear.rs.
#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/stack.h>

#include <exception>

#include "bridge_error.h"

using precis_bridge::write_error;

namespace {

const c10::OperatorHandle &prepack_operator() {
  static const auto handle =
      c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_prepack", "");
  return handle;
}

const c10::OperatorHandle &dynamic_operator() {
  static const auto handle =
      c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_dynamic", "");
  return handle;
}

} // namespace

extern "C" {

// A qint8 weight [out, in] packed without bias; 0 and *out set, or -1 and the error.
int precis_int8_pack_linear_weight(const at::Tensor *weight, void **out, char *error,
                                   size_t capacity) {
  try {
    torch::jit::Stack stack{c10::IValue(*weight), c10::IValue()};
    prepack_operator().callBoxed(&stack);
    *out = new c10::IValue(std::move(stack.at(0)));
    return 0;
  } catch (const std::exception &e) {
    write_error(error, capacity, e.what());
    return -1;
  }
}

// x [rows, in] (fp32) · packedᵀ → [rows, out] (fp32), x quantized to 7 bits (reduce_range:
// u8 × s8 pairs cannot saturate the 16-bit sums of CPUs without VNNI).
int precis_int8_linear(const at::Tensor *x, const void *packed, at::Tensor **out, char *error,
                       size_t capacity) {
  try {
    torch::jit::Stack stack{c10::IValue(*x), *static_cast<const c10::IValue *>(packed),
                            c10::IValue(true)};
    dynamic_operator().callBoxed(&stack);
    *out = new at::Tensor(stack.at(0).toTensor());
    return 0;
  } catch (const std::exception &e) {
    write_error(error, capacity, e.what());
    return -1;
  }
}

void precis_int8_free_linear_weight(void *packed) { delete static_cast<c10::IValue *>(packed); }

} // extern "C"
