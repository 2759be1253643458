"""The compiled engine (``_gswarp_core``) held to the numba engine's bytes (issue 28).

The numba CPU engine was the port's oracle: every case here ran the public function on both
engines and compared the bytes. When the port was complete (every CPU kernel on the core) the
numba CPU code was deleted, and each case's result on numba was recorded first as a digest
(SHA-256 of dtype, shape and bytes) in ``tests/data/core_golden.json``: the core must still
give those bytes. Cases: every input dtype, both grid dtypes, every mode x padding x
align_corners, normalized and pixel grids, strided / negative / broadcast (zero-stride) inputs,
grids with NaN, infinities and huge values, per-channel fills, fused affine maps and windows,
flow chains, the backward passes, antialiased sampling, the registration metrics, 1 to 3
threads, and every instruction-set level. The numba engine was held to torch by the parity and
golden tests, so equality here carries those over.

The inputs come from seeded ``numpy.random.Generator`` streams, which NumPy keeps stable; a
digest that stops matching means the bytes changed (or, in principle, the stream). A
deliberate change of results re-records the digests from the core:
``GSWARP_RECORD_GOLDEN=1 python -m pytest -n 0 -m "" tests/test_core.py`` (and the commit
says why).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import zlib
from pathlib import Path

import numpy as np
import pytest

from gswarp import grid_sample, sample_pixels
from gswarp.engine import core

pytestmark = pytest.mark.skipif(
    not core.available(), reason="the compiled engine is not built (pip install .)"
)

INPUT_DTYPES = (
    "uint8",
    "int8",
    "uint16",
    "int16",
    "uint32",
    "int32",
    "uint64",
    "int64",
    "float16",
    "float32",
    "float64",
    "bool",
)
MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")


GOLDEN = Path(__file__).parent / "data" / "core_golden.json"
RECORD = os.environ.get("GSWARP_RECORD_GOLDEN") == "1"
# {test node id: its results' digests, space-separated, in call order}
_DIGESTS: dict[str, list[str]] = {
    test: digests.split()
    for test, digests in (json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}).items()
}
_RECORDED: dict[str, str] = {}
_CALLS: dict[str, int] = {}


def _digest(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (C order), first 16 hex digits."""
    data = np.ascontiguousarray(array)
    h = hashlib.sha256(f"{data.dtype.str}{data.shape}".encode())
    h.update(data.reshape(-1).view(np.uint8).tobytes())
    return h.hexdigest()[:16]


class _Recorded:
    """The digest recorded for one result of the numba engine (see the module notes)."""

    def __init__(self, key: str) -> None:
        self.key = key


def _next_key() -> str:
    """The current test's next result key: its node id and the result's index in it."""
    test = os.environ["PYTEST_CURRENT_TEST"].rsplit(" (", 1)[0]
    index = _CALLS.get(test, 0)
    _CALLS[test] = index + 1
    return f"{test}#{index}"


def _expected_of(result):
    """``result``'s structure with each array replaced by its recorded digest's key (recording:
    the digest of the result)."""
    if isinstance(result, tuple):
        return tuple(_expected_of(part) for part in result)
    if result is None:
        return None
    key = _next_key()
    if RECORD:
        _RECORDED[key] = _digest(result)
    return _Recorded(key)


def _both(monkeypatch, call):
    """``call()`` on the core, with the expected result: the recorded bytes of the numba
    engine (``_Recorded``, checked by :func:`_same_bits`). ``monkeypatch``: the tests' own
    signature from the time both engines ran."""
    got = call()
    return _expected_of(got), got


def _same_bits(expected, got: np.ndarray) -> None:
    if isinstance(expected, _Recorded):
        if RECORD:
            return
        test, index = expected.key.rsplit("#", 1)
        recorded = _DIGESTS.get(test, [])
        assert int(index) < len(recorded), f"no digest recorded for {expected.key}"
        assert _digest(got) == recorded[int(index)], f"{expected.key}: the bytes changed"
        return
    assert got.dtype == expected.dtype and got.shape == expected.shape
    a = np.ascontiguousarray(expected).reshape(-1).view(np.uint8)
    b = np.ascontiguousarray(got).reshape(-1).view(np.uint8)
    differ = np.flatnonzero(a != b)
    assert differ.size == 0, f"{differ.size} of {a.size} bytes differ, first at {differ[:5]}"


@pytest.fixture(scope="module", autouse=True)
def _save_recorded_digests():
    """With GSWARP_RECORD_GOLDEN=1, write the digests of this run (merged into the file)."""
    yield
    if RECORD and _RECORDED:
        merged = {test: list(digests) for test, digests in _DIGESTS.items()}
        for key, digest in _RECORDED.items():
            test, index = key.rsplit("#", 1)
            if test not in merged or int(index) == 0:
                merged[test] = []
            merged[test].append(digest)
        text = {test: " ".join(digests) for test, digests in sorted(merged.items())}
        GOLDEN.write_text(json.dumps(text, indent=0) + "\n")


def _input(rng, dtype: str, shape) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def _grid(rng, shape, dtype, spread=1.3) -> np.ndarray:
    grid = (rng.random(shape) * 2 - 1) * spread
    flat = grid.reshape(-1)
    specials = [np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0, -0.0, 1.0, -1.0, 0.5]
    picks = rng.choice(flat.size, size=min(len(specials) * 2, flat.size), replace=False)
    for index, value in zip(picks, specials * 2, strict=False):
        flat[index] = value
    return grid.astype(dtype)


FAST_DTYPES = ("uint8", "float32", "float64", "bool")  # the rest: -m slow


@pytest.mark.parametrize(
    "dtype",
    [d if d in FAST_DTYPES else pytest.param(d, marks=pytest.mark.slow) for d in INPUT_DTYPES],
)
@pytest.mark.parametrize("grid_dtype", ["float32", "float64"])
@pytest.mark.parametrize("spatial", [2, 3])
def test_every_dtype_mode_padding_and_alignment(monkeypatch, dtype, grid_dtype, spatial):
    rng = np.random.default_rng(zlib.crc32(f"{dtype} {grid_dtype} {spatial}".encode()))
    if spatial == 2:
        image = _input(rng, dtype, (2, 3, 9, 11))
        grid = _grid(rng, (2, 7, 13, 2), grid_dtype)
    else:
        image = _input(rng, dtype, (2, 2, 5, 6, 7))
        grid = _grid(rng, (2, 4, 5, 6, 3), grid_dtype)
    modes = ("nearest",) if dtype == "bool" else MODES
    for mode, padding, align in itertools.product(modes, PADDINGS, (False, True)):
        fill = [1, 0, 1] if dtype == "bool" else [3.0, -2.0, 7.0]
        if np.dtype(dtype).kind == "u":
            fill = [3, 0, 7]
        fill = fill[: image.shape[1]]
        expected, got = _both(
            monkeypatch,
            lambda: grid_sample(image, grid, mode, padding, align, fill=fill),  # noqa: B023
        )
        _same_bits(expected, got)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("spatial", [2, 3])
def test_pixel_coordinates(monkeypatch, mode, spatial):
    rng = np.random.default_rng(3)
    if spatial == 2:
        image = _input(rng, "float32", (1, 2, 12, 10))
        coords = _grid(rng, (1, 8, 9, 2), "float32", spread=1.0) * 14 + 4
    else:
        image = _input(rng, "float32", (1, 1, 6, 7, 8))
        coords = _grid(rng, (1, 4, 5, 6, 3), "float32", spread=1.0) * 10 + 3
    for padding, align in itertools.product(PADDINGS, (False, True)):
        expected, got = _both(
            monkeypatch,
            lambda: sample_pixels(image, coords, mode, padding, align),  # noqa: B023
        )
        _same_bits(expected, got)


@pytest.mark.parametrize("mode", MODES)
def test_strided_negative_and_broadcast_inputs(monkeypatch, mode):
    rng = np.random.default_rng(5)
    base = _input(rng, "float32", (2, 13, 17, 3))
    layouts = {
        "hwc view": base.transpose(0, 3, 1, 2),
        "negative": base.transpose(0, 3, 1, 2)[:, ::-1, ::-2, ::-1],
        "broadcast": np.broadcast_to(base[:1].transpose(0, 3, 1, 2), (3, 3, 13, 17)),
    }
    for name, image in layouts.items():
        grid = _grid(rng, (image.shape[0], 6, 8, 2), "float64")
        grid_view = np.swapaxes(np.swapaxes(grid, 1, 2).copy(), 1, 2)  # a strided grid
        expected, got = _both(monkeypatch, lambda: grid_sample(image, grid_view, mode))  # noqa: B023
        _same_bits(expected, got)
        assert got.flags.c_contiguous, name


@pytest.mark.parametrize("mode", MODES)
def test_strided_volumes(monkeypatch, mode):
    rng = np.random.default_rng(9)
    base = _input(rng, "float32", (2, 7, 8, 9, 2))  # channels last, as a volume file holds them
    for image in (base.transpose(0, 4, 1, 2, 3), base.transpose(0, 4, 1, 2, 3)[:, :, ::-1, :, ::2]):
        grid = _grid(rng, (2, 3, 4, 5, 3), "float32")
        expected, got = _both(monkeypatch, lambda: grid_sample(image, grid, mode, "reflection"))  # noqa: B023
        _same_bits(expected, got)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_results_do_not_depend_on_the_thread_count(monkeypatch, threads):
    rng = np.random.default_rng(7)
    image = _input(rng, "uint8", (3, 3, 40, 50))
    grid = _grid(rng, (3, 31, 37, 2), "float32")
    core.set_num_threads(threads)
    try:
        expected, got = _both(monkeypatch, lambda: grid_sample(image, grid, "bicubic", "border"))
    finally:
        core.set_num_threads(2)
    _same_bits(expected, got)


def test_an_out_array_of_another_layout(monkeypatch):
    rng = np.random.default_rng(11)
    image = _input(rng, "int16", (1, 2, 9, 9))
    grid = _grid(rng, (1, 5, 6, 2), "float32")

    def call():
        out = np.zeros((1, 6, 5, 2), np.int16).transpose(0, 3, 2, 1)
        grid_sample(image, grid, "bilinear", out=out)
        return out

    _same_bits(*_both(monkeypatch, call))


def test_every_instruction_set_level_gives_the_same_bits(monkeypatch):
    """The kernels are compiled once per level (baseline, AVX2+FMA, AVX-512 on x86-64) and
    dispatched at run time: each level this machine runs gives the baseline's bytes."""
    rng = np.random.default_rng(13)
    cases = [
        (_input(rng, "float32", (2, 3, 21, 19)), _grid(rng, (2, 17, 23, 2), "float32")),
        (_input(rng, "float32", (1, 1, 9, 10, 11)), _grid(rng, (1, 6, 7, 8, 3), "float32")),
    ]
    levels = core.levels()
    chosen = core.level()
    results = {}
    try:
        for level in levels:
            core.set_level(level)
            assert core.level() == level
            results[level] = [
                grid_sample(image, grid, mode, padding)
                for image, grid in cases
                for mode, padding in itertools.product(MODES, PADDINGS)
            ]
    finally:
        core.set_level(chosen)
    for level in levels[1:]:
        for expected, got in zip(results["baseline"], results[level], strict=True):
            _same_bits(expected, got)
    with pytest.raises(ValueError, match="unknown level"):
        core.set_level("x86-64-v9")


def test_thread_settings_reach_the_core(monkeypatch):
    import gswarp
    from gswarp.engine.threads import default_threads

    monkeypatch.setenv("GSWARP_NUM_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("GSWARP_NUM_THREADS", "zero")
    assert default_threads() >= 1
    gswarp.set_num_threads(1)
    try:
        assert core.get_num_threads() == 1
    finally:
        gswarp.set_num_threads(default_threads())


# --------------------------------------------------------------------------------------------
# the fused affine kernels (every affine warp of the command line)


def _matrices(rng, spatial: int, count: int) -> np.ndarray:
    """Pixel-space maps (output -> input): rotations with scale, shrinks, shifts that put most
    of the output outside, a flip, a zero step and huge or non-finite entries."""
    k = spatial
    maps = []
    for index in range(count):
        linear = np.eye(k) + rng.normal(0, 0.4, (k, k))
        if index % 4 == 1:
            linear *= 3.0  # shrinking: fill runs and narrow interiors
        if index % 4 == 2:
            linear = -np.eye(k)[::-1]  # a flip and transposition
        shift = rng.normal(0, 6, k)
        maps.append(np.hstack([linear, shift[:, None]]))
    special = np.hstack([np.zeros((k, k)), np.full((k, 1), 2.0)])  # every point the same
    maps.append(special)
    huge = maps[0].copy()
    huge[0, 0] = 1e300
    maps.append(huge)
    broken = maps[0].copy()
    broken[1, -1] = np.nan
    maps.append(broken)
    return np.stack(maps)


@pytest.mark.parametrize(
    "dtype",
    [d if d in FAST_DTYPES else pytest.param(d, marks=pytest.mark.slow) for d in INPUT_DTYPES],
)
@pytest.mark.parametrize("spatial", [2, 3])
def test_fused_affine_every_dtype_mode_and_padding(monkeypatch, dtype, spatial):
    from gswarp import warp_affine

    rng = np.random.default_rng(zlib.crc32(f"affine {dtype} {spatial}".encode()))
    shape = (1, 2, 13, 11) if spatial == 2 else (1, 1, 7, 8, 9)
    image = _input(rng, dtype, shape)
    size = (1, shape[1], 12, 14) if spatial == 2 else (1, 1, 6, 7, 10)
    modes = ("nearest",) if dtype == "bool" else MODES
    for matrix in _matrices(rng, spatial, 8):
        for mode, padding, align in itertools.product(modes, PADDINGS, (False, True)):
            expected, got = _both(
                monkeypatch,
                lambda: warp_affine(image, matrix, size, mode, padding, align, fill=1),  # noqa: B023
            )
            _same_bits(expected, got)


@pytest.mark.parametrize("spatial", [2, 3])
def test_fused_affine_windows(monkeypatch, spatial):
    """A part of the output from a window of the input (gswarp.engine.chunks): the kernels'
    origin and shift."""
    from gswarp.engine.chunks import warp_affine_chunked

    rng = np.random.default_rng(17 + spatial)
    shape = (1, 2, 30, 26) if spatial == 2 else (1, 1, 12, 14, 13)
    image = _input(rng, "float32", shape)
    size = (1, shape[1], 28, 25) if spatial == 2 else (1, 1, 11, 12, 14)
    chunks = (9, 7) if spatial == 2 else (4, 5, 6)
    for matrix in _matrices(rng, spatial, 4)[:4]:
        for mode, padding in itertools.product(MODES, PADDINGS):
            expected, got = _both(
                monkeypatch,
                lambda: warp_affine_chunked(image, matrix, size, chunks, mode, padding),  # noqa: B023
            )
            _same_bits(expected, got)


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_affine_grid(monkeypatch, spatial, dtype):
    """torch's affine_grid: the base coordinates (linspace in two halves) and the GEMM's
    rounding, odd and even sizes, unit axes, both alignments."""
    from gswarp import affine_grid

    rng = np.random.default_rng(zlib.crc32(f"grid {spatial} {dtype}".encode()))
    theta = rng.normal(0, 1, (3, spatial, spatial + 1)).astype(dtype)
    sizes = (
        [(3, 1, 7, 9), (3, 2, 1, 8), (3, 1, 6, 1)]
        if spatial == 2
        else [(3, 1, 5, 6, 7), (3, 1, 1, 4, 5), (3, 1, 4, 1, 1)]
    )
    for size, align in itertools.product(sizes, (False, True)):
        expected, got = _both(monkeypatch, lambda: affine_grid(theta, size, align))  # noqa: B023
        _same_bits(expected, got)


# --------------------------------------------------------------------------------------------
# flow fields between matrices (flows, elastic fields, registration tools' fields)


def _flow_cases(rng, spatial: int, whole):
    """(field, before, to_field, after) for the kernel's three paths: direct (identities and the
    output's grid), separable (diagonal maps), and general (rotations), with a NaN field
    point and a coarser field."""
    k = spatial
    eye = np.eye(k, k + 1)
    fine = rng.normal(0, 2, (*whole, k))
    coarse = rng.normal(0, 2, (*(max(2, n // 3) for n in whole), k))
    coarse.reshape(-1)[5] = np.nan
    diagonal = np.hstack([np.diag(rng.uniform(0.3, 1.5, k)), rng.normal(0, 2, (k, 1))])
    rotation = np.hstack([np.eye(k) + rng.normal(0, 0.3, (k, k)), rng.normal(0, 2, (k, 1))])
    return [
        (fine, None, None, None),
        (coarse, diagonal, diagonal, rotation),
        (coarse, rotation, diagonal, None),
        (fine, eye, rotation, rotation),
    ]


@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
@pytest.mark.parametrize("spatial", [2, 3])
def test_flow_fields_every_path_mode_and_padding(monkeypatch, dtype, spatial):
    from gswarp.engine.api import sample_field

    rng = np.random.default_rng(zlib.crc32(f"flow {dtype} {spatial}".encode()))
    shape = (2, 2, 12, 13) if spatial == 2 else (1, 1, 6, 7, 8)
    image = _input(rng, dtype, shape)
    size = shape if spatial == 2 else (1, 1, 5, 6, 9)
    for field, before, to_field, after in _flow_cases(rng, spatial, size[2:]):
        for mode, padding, absolute in itertools.product(MODES, PADDINGS, (False, True)):

            def call():
                return sample_field(
                    image, field, size, mode, padding, before=before,  # noqa: B023
                    to_field=to_field, after=after, absolute=absolute, fill=2,  # noqa: B023
                )  # fmt: skip

            expected, got = _both(monkeypatch, call)
            _same_bits(expected, got)


@pytest.mark.parametrize("spatial", [2, 3])
def test_flow_windows(monkeypatch, spatial):
    """A chain with a field, computed chunk by chunk from input windows (origin and shift)."""
    from gswarp.engine.chunks import warp_chain_chunked
    from gswarp.engine.tiles import FieldStep, MatrixStep

    rng = np.random.default_rng(23 + spatial)
    shape = (1, 1, 20, 22) if spatial == 2 else (1, 1, 9, 10, 11)
    image = _input(rng, "float32", shape)
    k = spatial
    field = rng.normal(0, 1.5, (*shape[2:], k))
    shift = np.hstack([np.eye(k), np.full((k, 1), 0.7)])
    chunks = (7, 6) if spatial == 2 else (4, 3, 5)
    for steps in ([FieldStep(field)], [MatrixStep(shift), FieldStep(field)]):
        for mode in MODES:
            expected, got = _both(
                monkeypatch,
                lambda: warp_chain_chunked(image, steps, shape, chunks, mode),  # noqa: B023
            )
            _same_bits(expected, got)


# --------------------------------------------------------------------------------------------
# the registration metrics' loops


@pytest.mark.parametrize("metric", ["mse", "ncc", "mi"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("masked", [False, True])
def test_registration_metrics(monkeypatch, metric, dtype, masked):
    """Cost, gradient and count of every metric: NaN (undefined) warped points, a mask,
    values past the histogram's range (clipped), float32 and float64 images."""
    from gswarp.registration.metrics import Histogram, cost

    rng = np.random.default_rng(zlib.crc32(f"{metric} {dtype} {masked}".encode()))
    fixed = rng.random((23, 29)).astype(dtype)
    warped = (fixed * 0.8 + rng.normal(0, 0.1, fixed.shape)).astype(dtype)
    warped.reshape(-1)[::17] = np.nan
    warped.reshape(-1)[5::41] = 3.0  # beyond the moving range the histogram was set for
    mask = rng.random(fixed.shape) < 0.8 if masked else None
    histogram = Histogram.of(fixed, np.nan_to_num(warped, nan=0.0).clip(0, 1), 24)

    def call():
        value, gradient, count = cost(metric, warped, fixed, mask, histogram)
        return np.array([value], np.float64), gradient, np.array([count], np.int64)

    for expected, got in zip(*_both(monkeypatch, call), strict=True):
        _same_bits(expected, got)


def test_cpu_runs_never_import_numba(tmp_path):
    """The start-up the compiled engine buys (one PNG: 0.37 s, 0.86 s on numba): a command
    line rotation and the library's functions load no numba at all (numba is not a dependency
    of the base install; only the GPU path's numba-cuda brings it)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    probe = "import atexit, sys; atexit.register(lambda: print('numba' in sys.modules))\n"
    command_line = probe + (
        "sys.argv = ['gswarp', 'apply', {spec!r}, {image!r}, '-o', {out!r}, '-q']\n"
        "from gswarp.cli.main import main\nmain()\n"
    ).format(
        spec=str(root / "configs" / "rotate.yaml"),
        image=str(root / "sample_images" / "checkerboard.png"),
        out=str(tmp_path / "out") + "/",
    )
    library = probe + (
        "import numpy as np, gswarp\n"
        "from gswarp.engine.api import sample_field\n"
        "from gswarp.registration.metrics import cost\n"
        "x = np.random.rand(1, 2, 9, 10).astype(np.float32)\n"
        "gswarp.warp_affine(x, np.array([[1.0, 0.1, 0.5], [0.0, 0.9, 0.2]]))\n"
        "gswarp.grid_sample(x, np.zeros((1, 4, 5, 2), np.float32), 'bicubic')\n"
        "gswarp.affine_grid(np.eye(2, 3)[None], (1, 2, 4, 5))\n"
        "sample_field(x, np.zeros((9, 10, 2)), x.shape)\n"
        "cost('ncc', x[0, 0], x[0, 1], None)\n"
        "gswarp.warp_affine(x, np.array([[3.0, 0.2, 0.5], [0.0, 2.5, 0.2]]), (1, 2, 3, 4),\n"
        "                   antialias=True)\n"
        "from gswarp.autodiff import grid_sample_backward, warp_affine_backward\n"
        "grid_sample_backward(x, x, np.zeros((1, 9, 10, 2), np.float32), 'bicubic')\n"
        "warp_affine_backward(x, x, np.array([[1.0, 0.1, 0.5], [0.0, 0.9, 0.2]]))\n"
    )
    for code in (command_line, library):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == "False", result.stdout


def _smooth_grid(rng, shape, dtype) -> np.ndarray:
    """A rotated identity grid with a little noise (neighbouring points read nearby pixels:
    the backward kernels' channel-inner layout), with the special values of :func:`_grid`."""
    k = shape[-1]
    axes = [np.linspace(-1.2, 1.2, n) for n in shape[1:-1]][::-1]
    points = np.stack(np.meshgrid(*axes, indexing="xy" if k == 2 else "ij"), axis=-1)
    if k == 3:
        points = np.stack(np.meshgrid(*axes[::-1], indexing="ij")[::-1], axis=-1)
    rotation = np.linalg.qr(rng.normal(size=(k, k)))[0] * 0.9
    grid = points @ rotation.T + rng.normal(0, 0.01, points.shape)
    grid = np.broadcast_to(grid, shape).copy()
    special = _grid(rng, shape, "float64")
    mask = ~np.isfinite(special) | (np.abs(special) > 2)
    grid[mask] = special[mask]
    return grid.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("smooth", [False, True])
def test_backward_every_mode_padding_and_alignment(monkeypatch, dtype, spatial, smooth):
    """grid_sample's gradients for the input and the grid: random grids (one channel plane at
    a time) and smooth ones (every channel of a point at once), per-channel fills."""
    from gswarp.autodiff import grid_sample_backward

    rng = np.random.default_rng(zlib.crc32(f"backward {dtype} {spatial} {smooth}".encode()))
    shape = (2, 3, 9, 11) if spatial == 2 else (2, 2, 6, 7, 5)
    image = _input(rng, dtype, shape)
    out = (7, 8) if spatial == 2 else (4, 5, 6)
    make = _smooth_grid if smooth else _grid
    grid = make(rng, (2, *out, spatial), dtype)
    grad_out = _input(rng, dtype, (*shape[:2], *out))
    fill = [0.5, -2.0, 3.0][: shape[1]]
    for options in itertools.product(MODES, PADDINGS, (False, True)):
        call = functools.partial(grid_sample_backward, grad_out, image, grid, *options, fill=fill)
        for e, g in zip(*_both(monkeypatch, call), strict=True):
            _same_bits(e, g)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spatial", [2, 3])
def test_backward_of_affine_matrices(monkeypatch, dtype, spatial):
    """warp_affine's gradients for the input and the pixel-space matrix."""
    from gswarp.autodiff import warp_affine_backward

    rng = np.random.default_rng(zlib.crc32(f"affine backward {dtype} {spatial}".encode()))
    shape = (1, 3, 13, 11) if spatial == 2 else (1, 2, 7, 8, 9)
    image = _input(rng, dtype, shape)
    out = (12, 14) if spatial == 2 else (6, 7, 10)
    grad_out = _input(rng, dtype, (*shape[:2], *out))
    for matrix in _matrices(rng, spatial, 5):
        for options in itertools.product(MODES, PADDINGS, (False, True)):
            call = functools.partial(warp_affine_backward, grad_out, image, matrix, *options)
            for e, g in zip(*_both(monkeypatch, functools.partial(call, fill=1.5)), strict=True):
                _same_bits(e, g)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_backward_does_not_depend_on_the_thread_count(monkeypatch, threads):
    """The scatter's bands follow the thread count; the bytes must not."""
    from gswarp.autodiff import grid_sample_backward

    rng = np.random.default_rng(11)
    image = _input(rng, "float32", (2, 3, 20, 17))
    grid = _grid(rng, (2, 15, 16, 2), "float32")
    grad_out = _input(rng, "float32", (2, 3, 15, 16))
    core.set_num_threads(threads)
    try:
        expected, got = _both(
            monkeypatch, lambda: grid_sample_backward(grad_out, image, grid, "bilinear", "border")
        )
    finally:
        core.set_num_threads(2)
    for e, g in zip(expected, got, strict=True):
        _same_bits(e, g)


AA_MODES = ("bilinear", "bicubic")  # nearest never averages (labels)


def _shrinking_matrices(rng, spatial: int) -> list:
    """Pixel-space maps that shrink (a footprint of several pixels): a scaled rotation, an
    anisotropic shear, a shrink along one axis only, a map that does not shrink (point-sampled
    by the caller) and one with a huge entry."""
    k = spatial
    rotation = np.linalg.qr(rng.normal(size=(k, k)))[0]
    maps = [
        np.hstack([2.7 * rotation, rng.normal(0, 3, (k, 1))]),
        np.hstack([np.diag(rng.uniform(1.2, 4.0, k)) + np.triu(rng.normal(0, 1, (k, k)), 1),
                   rng.normal(0, 2, (k, 1))]),
        np.hstack([np.diag([3.5] + [1.0] * (k - 1)), np.zeros((k, 1))]),
        np.hstack([0.8 * rotation, np.full((k, 1), 1.5)]),
    ]  # fmt: skip
    huge = maps[0].copy()
    huge[0, -1] = 1e12
    maps.append(huge)
    return maps


@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
@pytest.mark.parametrize("spatial", [2, 3])
def test_antialiased_affine(monkeypatch, dtype, spatial):
    """warp_affine(antialias=True): frames per batch item, coverage against the fill at the
    edges (zeros), border and reflection taps; a batch whose items shrink or not."""
    from gswarp import warp_affine

    rng = np.random.default_rng(zlib.crc32(f"aa affine {dtype} {spatial}".encode()))
    shape = (2, 2, 31, 27) if spatial == 2 else (2, 1, 17, 15, 19)
    image = _input(rng, dtype, shape)
    size = (2, shape[1], 11, 13) if spatial == 2 else (2, 1, 6, 7, 5)
    maps = _shrinking_matrices(rng, spatial)
    for first, second in zip(maps, maps[1:] + maps[:1], strict=True):
        matrix = np.stack([first, second])
        for options in itertools.product(AA_MODES, PADDINGS, (False, True)):
            call = functools.partial(warp_affine, image, matrix, size, *options, antialias=True)
            _same_bits(*_both(monkeypatch, functools.partial(call, fill=[3, 250][: shape[1]])))


def _shrinking_coordinates(rng, spatial: int, out, scale: float) -> np.ndarray:
    """(1, *out, k) float64 pixel coordinates: a scaled rotation with a smooth wobble, a NaN
    point, a jump (a discontinuous field) and a point far outside."""
    k = spatial
    axes = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in out], indexing="ij")
    points = np.stack(axes[::-1], axis=-1)  # (x, y[, z]) last
    rotation = np.linalg.qr(rng.normal(size=(k, k)))[0] * scale
    coords = points @ rotation.T + 0.4 * np.sin(points[..., :1] / 3.0) + 5.0
    flat = coords.reshape(-1, k)
    flat[3] = np.nan
    flat[len(flat) // 2 :: 7] += 9.0
    flat[-2] = 1e9
    return coords[None]


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("spatial", [2, 3])
def test_antialiased_pixel_coordinates(monkeypatch, dtype, spatial):
    """sample_pixels(antialias=True): per-point Jacobians by differences (NaN neighbours,
    jumps, edges), points that shrink or not (scales 2.6 and 0.7), and a window whose
    coordinates carry a row / slice beyond each side (sample_pixels_window's top)."""
    from gswarp import sample_pixels
    from gswarp.engine.api import sample_pixels_window

    rng = np.random.default_rng(zlib.crc32(f"aa pixels {dtype} {spatial}".encode()))
    shape = (1, 3, 30, 26) if spatial == 2 else (1, 1, 14, 15, 16)
    image = _input(rng, dtype, shape)
    out = (9, 11) if spatial == 2 else (5, 6, 4)
    for scale in (2.6, 0.7):
        coords = _shrinking_coordinates(rng, spatial, out, scale)
        for options in itertools.product(AA_MODES, PADDINGS, (False, True)):
            call = functools.partial(sample_pixels, image, coords, *options, antialias=True)
            _same_bits(*_both(monkeypatch, functools.partial(call, fill=7)))
            window = functools.partial(sample_pixels_window, image, coords, 1, *options, 7, None)
            _same_bits(*_both(monkeypatch, window))


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("spatial", [2, 3])
def test_antialiased_flow_fields(monkeypatch, dtype, spatial):
    """sample_field(antialias=True): the general and the separable chain (2-D), displacements
    and coordinates, a coarse field with a NaN point, a chain that shrinks."""
    from gswarp.engine.api import sample_field

    rng = np.random.default_rng(zlib.crc32(f"aa flow {dtype} {spatial}".encode()))
    shape = (1, 2, 33, 29) if spatial == 2 else (1, 1, 16, 14, 18)
    image = _input(rng, dtype, shape)
    size = (1, shape[1], 12, 10) if spatial == 2 else (1, 1, 6, 5, 7)
    k = spatial
    shrink = np.hstack([np.diag(rng.uniform(2.0, 3.0, k)), np.ones((k, 1))])
    rotation = np.hstack([np.linalg.qr(rng.normal(size=(k, k)))[0] * 2.5, np.full((k, 1), 4.0)])
    coarse = rng.normal(0, 1.5, (*(4,) * k, k))
    coarse.reshape(-1)[5] = np.nan
    cases = [
        (coarse, shrink, np.hstack([np.diag([0.3] * k), np.zeros((k, 1))]), None),  # separable
        (coarse, rotation, None, None),
        (rng.normal(0, 1, (*size[2:], k)), None, None, shrink),
    ]
    for field, before, to_field, after in cases:
        for mode, padding, absolute in itertools.product(AA_MODES, PADDINGS, (False, True)):
            call = functools.partial(
                sample_field, image, field, size, mode, padding, before=before,
                to_field=to_field, after=after, absolute=absolute, fill=2, antialias=True,
            )  # fmt: skip
            _same_bits(*_both(monkeypatch, call))


def test_antialias_constants_match_the_python_side():
    """The core's filter constants are gswarp's (a change on one side alone would make the
    engines differ)."""
    from gswarp.sampling import ANTIALIAS_WIDEN, SHRINK_TOLERANCE

    assert core._core.WIDEN == ANTIALIAS_WIDEN
    assert core._core.SHRINK_TOLERANCE == SHRINK_TOLERANCE


def test_a_missing_compiled_engine_is_one_line_per_file(tmp_path):
    """A broken install (here GSWARP_CORE_LIBRARY naming no file): each file fails in one line
    that says to reinstall, no traceback, exit 1; ``gswarp info`` says why."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    environment = {**os.environ, "GSWARP_CORE_LIBRARY": str(tmp_path / "missing.so")}
    images = [str(root / "sample_images" / name) for name in ("text.png", "gradient.png")]
    command = [sys.executable, "-m", "gswarp", "apply", str(root / "configs" / "rotate.yaml")]
    result = subprocess.run(
        [*command, *images, "-o", str(tmp_path / "out") + "/"],
        capture_output=True, text=True, env=environment,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and "Traceback" not in result.stderr, result.stderr
    assert all("compiled engine (_gswarp_core) is not usable" in line for line in lines[:2])
    assert "reinstall with: pip install ." in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    info = subprocess.run(
        [sys.executable, "-m", "gswarp", "info"], capture_output=True, text=True, env=environment
    )
    assert info.returncode == 0 and "cpu backend: not usable (" in info.stdout
