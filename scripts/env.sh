# Sourced by the other scripts (and by developers who run cargo by hand):
#   . scripts/env.sh
# Everything precis installs lives under PRECIS_CACHE, so a second run reuses it.
export PRECIS_CACHE="${PRECIS_CACHE:-$HOME/.cache/precis}"
export PRECIS_VENV="$PRECIS_CACHE/venv"
# The virtualenv holds torch==2.4.0 (for tch 0.17) and the model tooling.
export VIRTUAL_ENV="$PRECIS_VENV"
export PATH="$PRECIS_VENV/bin:$PATH"
# torch-sys links the CPU-only libtorch folder scripts/setup assembles from that wheel (no CUDA
# libraries); the wheel is built with the pre-C++11 ABI.
export PRECIS_LIBTORCH="$PRECIS_CACHE/libtorch-2.4.0-cpu"
export LIBTORCH="$PRECIS_LIBTORCH"
export LIBTORCH_CXX11_ABI=0
unset LIBTORCH_USE_PYTORCH
# One target directory across checkouts and CI runs: libtorch-based crates compile once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PRECIS_CACHE/target}"
export PRECIS_BIN="$CARGO_TARGET_DIR/release/precis"
export PRECIS_MODELS_DIR="${PRECIS_MODELS_DIR:-$PRECIS_CACHE/models}"
# ONNX Runtime's library (scripts/setup-onnx copies it out of the onnxruntime wheel); build.rs
# makes it the binary's default.
export PRECIS_ONNXRUNTIME_LIB="${PRECIS_ONNXRUNTIME_LIB:-$PRECIS_CACHE/onnxruntime-1.32.0/libonnxruntime.so}"
export PRECIS_TEST_MODELS_DIR="${PRECIS_TEST_MODELS_DIR:-$PRECIS_CACHE/test-models}"
