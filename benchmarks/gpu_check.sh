#!/usr/bin/env bash
# The GPU check for a lent GPU machine (issue 6): run it as the device tool's one command,
#   bash benchmarks/gpu_check.sh
# It writes everything under $OUT (default out/gpu): the device, gswarp info, the CUDA tests
# (compiled kernels on NumPy and CuPy arrays, against the CPU engine and torch CUDA), the PTX
# compile check, and the benchmark table against torch CUDA (forward passes and, issue 17,
# grid_sample_backward). Each step's failure is recorded and the next step still runs. The machine image has CuPy, numba-cuda and torch; gswarp runs from
# this checkout (PYTHONPATH), so nothing is installed. Sized to finish in about 7 minutes on a
# fresh machine (the kernels compile there): the tests run on 8 processes while the PTX check
# runs beside them; the benchmark runs alone afterwards so its timings have the GPU to themselves.
set -u
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-/tmp/gswarp-numba-cache}"
export PYTHONUNBUFFERED=1
unset NUMBA_ENABLE_CUDASIM

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
step versions python -c "import sys, numpy, numba, cupy, torch; print(sys.version); print('numpy', numpy.__version__, 'numba', numba.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__)"
step status python -c "from gswarp.engine.device import cuda_status; print(cuda_status())"
step info python -m gswarp info
step ptx timeout 200 python tools/check_ptx.py &
step tests timeout 240 python -m pytest -q -p no:cacheprovider -n 8 tests/test_cuda.py -rs
wait
step bench timeout 210 python benchmarks/bench_gpu.py --repeats 20 --out "$OUT/gpu_bench.md"
tail -n 3 "$OUT/ptx.txt"
tail -n 25 "$OUT/tests.txt"
cat "$OUT/gpu_bench.md" 2>/dev/null
