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
# detect_leaks=0: CPython's own allocations at exit are not ours to report
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 LD_PRELOAD="$preload" \
    GSWARP_CORE_LIBRARY="$library" \
    python -m pytest -q -p no:xdist -p no:cacheprovider -o addopts="" -m "not slow" tests/test_core.py tests/test_filters.py tests/test_flow.py tests/test_antialias.py
