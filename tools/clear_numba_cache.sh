#!/usr/bin/env bash
# numba's on-disk cache is keyed on the kernel module's timestamp, not on the modules it calls:
# after editing gswarp/engine/pointwise.py, clear it so the kernels are recompiled.
set -eu
cd "$(dirname "$0")/.."
find gswarp -name '*.nbi' -delete -o -name '*.nbc' -delete
