"""Collection for the whole checkout (``--doctest-modules`` imports every module of
``gswarp/``): the GPU path's numba-cuda modules need numba, which the base install no longer
brings (issue 28); without it they are left out, as ``tests/test_cuda.py`` skips itself."""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("numba") is None:
    collect_ignore += [
        "gswarp/engine/backward.py",
        "gswarp/engine/cuda.py",
        "gswarp/engine/footprint.py",
        "gswarp/engine/pointwise.py",
    ]
