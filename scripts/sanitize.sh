#!/usr/bin/env bash
# The C++ tests, then a short JS fuzz loop over the addon, built with AddressSanitizer
# and UndefinedBehaviorSanitizer (docs/guide.md, "Sanitizer build"). Linux, CPU only
# (the CUDA kernels are left out: the CUDA runtime and ASan's shadow memory collide).
#
#   scripts/sanitize.sh [build-dir]          (default: build-sanitize)
#
# Environment: M3D_SANITIZE (default address,undefined), FUZZ_ROUNDS (default 1000),
# FUZZ_SEED (default 1), JOBS (build jobs, default: all cores), DETECT_LEAKS (default 1:
# LeakSanitizer over the C++ tests), M3D_ASAN_RUNTIME (the ASan runtime preloaded into
# node; default: the compiler's libasan.so).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(realpath -m "${1:-$root/build-sanitize}")
sanitize=${M3D_SANITIZE:-address,undefined}
rounds=${FUZZ_ROUNDS:-1000}
seed=${FUZZ_SEED:-1}
jobs=${JOBS:-$(nproc)}
leaks=${DETECT_LEAKS:-1}

# UBSan findings abort (the build uses -fno-sanitize-recover). allow_user_segv_handler=0:
# node installs its own SIGSEGV handler, which would hide ASan's report of a wild access.
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
asan=allow_user_segv_handler=0:detect_stack_use_after_return=1:check_initialization_order=1

echo "== C++ tests (-fsanitize=$sanitize) in $out/core"
cmake -S "$root" -B "$out/core" -DCMAKE_BUILD_TYPE=Release -DM3D_BUILD_TESTS=ON -DM3D_CUDA=OFF "-DM3D_SANITIZE=$sanitize"
cmake --build "$out/core" --parallel "$jobs"
ASAN_OPTIONS="$asan:detect_leaks=$leaks" ctest --test-dir "$out/core" --output-on-failure --label-exclude gpu

echo "== addon (-fsanitize=$sanitize) in $out/addon"
(cd "$root" && CMAKE_BUILD_PARALLEL_LEVEL=$jobs npx cmake-js compile --out "$out/addon" --CDM3D_BUILD_TESTS=OFF --CDM3D_CUDA=OFF \
  "--CDM3D_SANITIZE=$sanitize")
addon=$out/addon/Release/metric3d.node

echo "== JS fuzz loop: $rounds rounds, seed $seed"
preload=""
if [[ $sanitize == *address* ]]; then
  compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$out/addon/CMakeCache.txt")
  preload=${M3D_ASAN_RUNTIME:-$("${compiler:-c++}" -print-file-name=libasan.so)}
  if [[ ! -f $preload ]]; then
    echo "sanitize.sh: no ASan runtime at '$preload'; set M3D_ASAN_RUNTIME (Clang: libclang_rt.asan-<arch>.so)" >&2
    exit 1
  fi
fi
# node is not instrumented: the runtime is preloaded so that it comes first, and the
# leak check is off (V8 keeps memory until exit by design).
LD_PRELOAD="$preload" ASAN_OPTIONS="$asan:detect_leaks=0" \
  node --expose-gc "$root/scripts/native-fuzz.mjs" "$addon" "$rounds" "$seed"
echo "sanitize.sh: C++ tests and fuzz loop passed under -fsanitize=$sanitize"
