#!/usr/bin/env bash
# The GPU check for a lent GPU machine (issues 6, 31): run it as the device tool's one command,
#   bash benchmarks/gpu_check.sh
# It writes everything under $OUT (default out/gpu): the device, gswarp info, the first GPU call
# in a fresh process with an empty CuPy kernel cache and again with it filled (issue 31's
# target 3: <= 2 s), the CUDA tests (the C++ kernels compiled by NVRTC on the device, on NumPy
# and CuPy arrays, against the CPU engine and torch CUDA), and the benchmark table against torch
# CUDA (forward passes, grid_sample_backward, the host time of a launch). Each step's failure is
# recorded and the next step still runs. The machine image has CuPy and torch; gswarp runs from
# this checkout (PYTHONPATH). The compiled CPU engine (the tests' oracle) is built in place
# first when it is missing (pip, no network: scikit-build-core and nanobind must be there; the
# step's log says if not). The benchmark runs alone at the end so its timings have the GPU to
# themselves.
set -u
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
FIRST_CALL='import time; t = time.perf_counter(); import cupy, gswarp
x = cupy.ones((1, 1, 64, 64), cupy.float32); g = cupy.zeros((1, 32, 32, 2), cupy.float32)
gswarp.grid_sample(x, g); cupy.cuda.Device().synchronize()
print(f"first grid_sample in a fresh process: {time.perf_counter() - t:.3f} s (imports included)")'
COLD_CACHE=$(mktemp -d)

step() {  # step NAME COMMAND...: run, keep stdout+stderr in $OUT/NAME.txt, note the exit code
    local name=$1
    shift
    echo "== $name: $*"
    "$@" >"$OUT/$name.txt" 2>&1
    local code=$?
    echo "exit $code" >>"$OUT/$name.txt"
    echo "   $name exit $code ($(date +%T))"
}

step device nvidia-smi
if ! python -c "import gswarp.engine.core as c; assert c.available()" 2>/dev/null; then
    step build python -m pip install --no-build-isolation --no-deps --no-index -q .
fi
step versions python -c "import sys, numpy, cupy, torch; print(sys.version); print('numpy', numpy.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__)"
step status python -c "from gswarp.engine.device import cuda_status; print(cuda_status())"
step info python -m gswarp info
step first_call_cold env CUPY_CACHE_DIR="$COLD_CACHE" python -c "$FIRST_CALL"
step first_call_warm env CUPY_CACHE_DIR="$COLD_CACHE" python -c "$FIRST_CALL"
step tests timeout 300 python -m pytest -q -p no:cacheprovider -n 8 tests/test_cuda.py tests/test_cuda_core.py -rs
step bench timeout 210 python benchmarks/bench_gpu.py --repeats 20 --out "$OUT/gpu_bench.md"
cat "$OUT/first_call_cold.txt" "$OUT/first_call_warm.txt"
tail -n 25 "$OUT/tests.txt"
cat "$OUT/gpu_bench.md" 2>/dev/null
