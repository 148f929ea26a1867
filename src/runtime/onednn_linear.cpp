// Two of libtorch's oneDNN operators that tch has no binding for (they are registered in the
// `mkldnn` namespace, not ATen's), reached through libtorch's operator dispatcher:
//   mkldnn::_reorder_linear_weight: a weight [out, in] copied once into oneDNN's blocked layout;
//   mkldnn::_linear_pointwise: x · weightᵀ + bias with such a weight, on dense fp32/bf16 x.
// Rust's side is src/runtime/packed_linear.rs; tensors cross as tch's `at::Tensor*` handles.
#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <exception>

#include "bridge_error.h"

using precis_bridge::write_error;
#include <optional>

namespace {

const c10::TypedOperatorHandle<at::Tensor(const at::Tensor &, std::optional<int64_t>)> &
reorder_operator() {
  static const auto handle =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("mkldnn::_reorder_linear_weight", "")
          .typed<at::Tensor(const at::Tensor &, std::optional<int64_t>)>();
  return handle;
}

using LinearSignature = at::Tensor(const at::Tensor &, const at::Tensor &,
                                   const std::optional<at::Tensor> &, c10::string_view,
                                   c10::List<std::optional<at::Scalar>>,
                                   std::optional<c10::string_view>);

const c10::TypedOperatorHandle<LinearSignature> &linear_operator() {
  static const auto handle = c10::Dispatcher::singleton()
                                 .findSchemaOrThrow("mkldnn::_linear_pointwise", "")
                                 .typed<LinearSignature>();
  return handle;
}

} // namespace

extern "C" {

// The weight in oneDNN's layout for any number of rows; 0 and *out set, or -1 and the error.
int precis_onednn_pack_linear_weight(const at::Tensor *weight, at::Tensor **out, char *error,
                                     size_t capacity) {
  try {
    *out = new at::Tensor(reorder_operator().call(*weight, std::nullopt));
    return 0;
  } catch (const std::exception &e) {
    write_error(error, capacity, e.what());
    return -1;
  }
}

// x [rows, in] · packedᵀ + bias → [rows, out]; `bias` may be null.
int precis_onednn_linear(const at::Tensor *x, const at::Tensor *packed, const at::Tensor *bias,
                         at::Tensor **out, char *error, size_t capacity) {
  try {
    std::optional<at::Tensor> b;
    if (bias != nullptr) {
      b = *bias;
    }
    *out = new at::Tensor(linear_operator().call(*x, *packed, b, "none",
                                                 c10::List<std::optional<at::Scalar>>(),
                                                 std::nullopt));
    return 0;
  } catch (const std::exception &e) {
    write_error(error, capacity, e.what());
    return -1;
  }
}

} // extern "C"
