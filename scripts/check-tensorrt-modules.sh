#!/usr/bin/env bash
# Compiles the TensorRT backend modules against real TensorRT headers and runs the
# loader tests with them (no TensorRT library or GPU needed):
#   scripts/check-tensorrt-modules.sh /path/to/trt10/include /path/to/trt11/include
# Either argument may be "-" to leave that major out. Builds in build-trt-check/.
set -euo pipefail
cd "$(dirname "$0")/.."
trt10=${1:--}
trt11=${2:--}
args=()
[ "$trt10" != "-" ] && args+=("-DM3D_TENSORRT10_INCLUDE_DIR=$(realpath "$trt10")")
[ "$trt11" != "-" ] && args+=("-DM3D_TENSORRT11_INCLUDE_DIR=$(realpath "$trt11")")
[ ${#args[@]} -gt 0 ] || { echo "usage: $0 <trt10-include|-> <trt11-include|->" >&2; exit 2; }
build=${BUILD_DIR:-build-trt-check}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DM3D_BUILD_TESTS=ON "${args[@]}" > /dev/null
targets=(test_trt_loader)
[ "$trt10" != "-" ] && targets+=(m3d_trt10)
[ "$trt11" != "-" ] && targets+=(m3d_trt11)
cmake --build "$build" --parallel --target "${targets[@]}"
# The modules must need nothing from TensorRT or CUDA at link time: every undefined
# symbol is a versioned C/C++ runtime symbol (name@GLIBC_..., @GLIBCXX_..., @CXXABI_...).
for m in "$build"/native/trt_module/m3d_trt*.so; do
  echo "$(basename "$m"): exports $(nm -D --defined-only "$m" | awk '$2=="T"{print $3}' | tr '\n' ' ')"
  unversioned=$(nm -D --undefined-only "$m" | awk '{print $2}' | grep -v '@' | grep -Ev '^(__gmon_start__|_ITM_deregisterTMCloneTable|_ITM_registerTMCloneTable)$' || true)
  if [ -n "$unversioned" ]; then echo "  unexpected undefined symbols: $unversioned" >&2; exit 1; fi
done
# The loader tests: once as they are, and with stand-in TensorRT 11 and 10 libraries on
# the library path: with the parser of 10 (trt_loader_fallback), and with no usable
# parser (trt_loader_noparser).
ctest --test-dir "$build" -R '^trt_loader' --output-on-failure
