// What the C++ bridges to libtorch (onednn_linear.cpp, int8_linear.cpp) share: the message of a
// caught exception, handed to Rust in the caller's buffer.
#pragma once

#include <cstddef>
#include <cstring>

namespace precis_bridge {

// `message` into `error` (truncated to `capacity`, NUL-terminated).
inline void write_error(char *error, size_t capacity, const char *message) {
  if (capacity == 0) {
    return;
  }
  std::strncpy(error, message, capacity - 1);
  error[capacity - 1] = '\0';
}

} // namespace precis_bridge
