#!/usr/bin/env bash
# Build the compiled engine with AddressSanitizer + UBSan (Debug, warnings as errors) and run
# the engine tests that reach every kernel against it (the installed build is not touched:
# gswarp.engine.core loads the file GSWARP_CORE_LIBRARY names). Usage: tools/check_sanitizers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build="${GSWARP_SANITIZE_BUILD:-build/sanitize}"
generator=(); command -v ninja > /dev/null && generator=(-G Ninja)
# the baseline level only: every level compiles the same sources (docs/engine.md)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug -DGSWARP_SANITIZE=ON -DGSWARP_WERROR=ON \
    -DGSWARP_BASELINE_ONLY=ON \
    -DPython_EXECUTABLE="$(command -v python)" > /dev/null
cmake --build "$build" > /dev/null
library="$(ls "$build"/_gswarp_core*.so)"
preload="$(c++ -print-file-name=libasan.so) $(c++ -print-file-name=libubsan.so)"
# detect_leaks=0: CPython's own allocations at exit are not ours to report. The CUDA kernels'
# host build (tests/cuda_host.py) is compiled with the same sanitizers for test_cuda_core.py
# (its NVRTC compile checks, which run no code of ours, are left out: slow under ASan; -O0:
# the ASan build of every kernel compiles in 80 s here, ~210 s at -O1).
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 LD_PRELOAD="$preload" \
    GSWARP_CORE_LIBRARY="$library" \
    GSWARP_CUDA_HOST_FLAGS="-O0 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
    python -m pytest -q -p no:xdist -p no:cacheprovider -o addopts="" -m "not slow" -k "not nvrtc" tests/test_core.py tests/test_filters.py tests/test_flow.py tests/test_antialias.py tests/test_cuda_core.py
