"""A corpus of bad files for every reader of ``gswarp apply``, generated (nothing is stored).

Each :class:`BadFile` is a file and the part it plays in a run: an input image or volume, an
input Zarr store, a flow field, a registration tool's transform file, the ``-r`` reference, a
``--replay`` log. Damaged copies of good files (empty, cut at a few places, junk with the right
suffix, a flipped header byte) come with hand-made faults of each format: a NIfTI whose affine
is zero, NaN or singular, a ``.npy`` that needs pickle, an ITK file with a singular matrix, a
Zarr store whose metadata is not JSON, and so on. The test (``tests/test_bad_files.py``) runs
each through the CLI and asserts one ``gswarp: error:`` line naming the file, the exit status
of its part (1: that input failed; 2: a spec part, nothing ran) and no traceback.

Write the corpus to a folder to try it by hand::

    python -m tests.bad_files /tmp/bad
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROLES = ("input", "chunked", "zarr", "flow", "transform", "reference", "replay")
"""What a bad file is given as (``chunked``: a volume read in windows for a Zarr output);
:func:`command` builds its ``gswarp apply`` arguments."""

STATUS = {
    "input": 1,
    "chunked": 1,
    "zarr": 1,
    "flow": 2,
    "transform": 2,
    "reference": 2,
    "replay": 2,
}
"""The exit status each part's fault gives: a failed input, or a usage/spec error."""


@dataclass(frozen=True)
class BadFile:
    """A file of the corpus: its ``name`` (a path under the corpus folder), its ``role`` (one
    of :data:`ROLES`), how it was made (``fault``, for the test's id) and, for a damaged copy,
    the good file it was cut from (``seed``): a damage that leaves every value the run needs
    (a PNG's last CRC byte, a reference's voxels) may be read, but only to the same result."""

    name: str
    role: str
    fault: str
    seed: str | None = None


# --------------------------------------------------------------------------------------------
# good files, the seeds of the damaged ones


def _pillow(format: str) -> bytes:
    """A 24 x 20 gray ramp in Pillow's ``format`` (PNG, JPEG, TIFF)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.arange(24 * 20, dtype=np.uint8).reshape(20, 24)).save(buffer, format)
    return buffer.getvalue()


def _png() -> bytes:
    return _pillow("PNG")


def _tiff_stack() -> bytes:
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.arange(6 * 7 * 8, dtype=np.float32).reshape(6, 7, 8))
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _nifti(array: np.ndarray | None = None, affine: np.ndarray | None = None) -> bytes:
    import nibabel

    if array is None:
        array = np.arange(8 * 9 * 10, dtype=np.float32).reshape(8, 9, 10)
    image = nibabel.Nifti1Image(array, np.eye(4) if affine is None else affine)
    return image.to_bytes()


def _with_sform(data: bytes, rows: np.ndarray) -> bytes:
    """A NIfTI-1 file's bytes with its sform rows replaced (sform_code 1, qform_code 0): a
    header nibabel itself refuses to write."""
    raw = bytearray(data)
    raw[280:328] = struct.pack("<12f", *np.asarray(rows, dtype=np.float32).ravel())
    raw[252:256] = struct.pack("<hh", 0, 1)  # qform_code, sform_code
    return bytes(raw)


def _tfm(kind: str, parameters: str, fixed: str = "0 0 0") -> bytes:
    return (
        "#Insight Transform File V1.0\n#Transform 0\n"
        f"Transform: {kind}\nParameters: {parameters}\nFixedParameters: {fixed}\n"
    ).encode()


def _field(shape=(8, 9, 10, 1, 3), fill: float = 0.0) -> bytes:
    import nibabel

    image = nibabel.Nifti1Image(np.full(shape, fill, np.float32), np.eye(4))
    image.header.set_intent("vector")
    return image.to_bytes()


# --------------------------------------------------------------------------------------------
# damage


def _damaged(seed: bytes) -> dict[str, bytes]:
    """Empty, cut after 1 byte, 64 bytes, half and all but the last byte, and junk."""
    rng = np.random.default_rng(len(seed))
    return {
        "empty": b"",
        "cut-at-1": seed[:1],
        "cut-at-64": seed[:64],
        "cut-in-half": seed[: len(seed) // 2],
        "last-byte-cut": seed[:-1],
        "junk": rng.integers(0, 256, 300, dtype=np.uint8).tobytes(),
    }


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _specific() -> list[tuple[str, str, str, bytes]]:
    """(suffix, role, fault, bytes) of faults particular to a format."""
    good = _nifti()
    npy_volume = np.arange(6 * 7 * 8, dtype=np.float32).reshape(6, 7, 8)
    flipped_dims = bytearray(good)
    flipped_dims[40:42] = struct.pack("<h", 9)  # dim[0] = 9: more than NIfTI's 7 dimensions
    bad_datatype = bytearray(good)
    bad_datatype[70:72] = struct.pack("<h", 3)  # datatype 3: no such NIfTI code
    cases = [
        (".nii", "input", "zero-affine", _with_sform(good, np.zeros((3, 4)))),
        (".nii", "input", "nan-affine", _with_sform(good, np.full((3, 4), np.nan))),
        (".nii", "input", "flat-affine", _with_sform(good, np.diag([1.0, 1.0, 0.0, 0.0])[:3])),
        (".nii", "input", "dims-over-7", bytes(flipped_dims)),
        (".nii", "input", "no-such-datatype", bytes(bad_datatype)),
        (".nii", "input", "one-dimensional", _nifti(np.zeros((8,), np.float32))),
        (".nii.gz", "input", "gzip-of-junk", _gz(b"x" * 400)),
        (".nii.gz", "input", "gzip-cut", _gz(good)[:-9]),
        (".npy", "input", "needs-pickle", _npy(np.array([{"a": 1}], dtype=object))),
        (".npy", "input", "zero-dimensional", _npy(np.float32(1))),
        (".npy", "input", "complex-values", _npy(npy_volume.astype(np.complex64))),
        (".npy", "input", "shape-beyond-data", _npy(npy_volume)[:128] + npy_volume.tobytes()[:8]),
        (".png", "input", "bad-crc", _png()[:40] + b"\xff" + _png()[41:]),
        (".nii", "reference", "zero-affine", _with_sform(good, np.zeros((3, 4)))),
        (".nii", "reference", "nan-affine", _with_sform(good, np.full((3, 4), np.nan))),
        (".nii", "reference", "one-dimensional", _nifti(np.zeros((8,), np.float32))),
        (".npy", "flow", "wrong-shape", _npy(np.zeros((5, 6), np.float32))),
        (".npy", "flow", "needs-pickle", _npy(np.array([{"a": 1}], dtype=object))),
        (".npy", "flow", "three-components", _npy(np.zeros((20, 24, 3), np.float32))),
        (".npy", "flow", "text-values", _npy(np.full((20, 24, 2), "a"))),
        (".npz", "flow", "two-arrays", _npz(a=np.zeros((20, 24, 2)), b=np.zeros((20, 24, 2)))),
        (".nii.gz", "flow", "gzip-of-junk", _gz(b"x" * 400)),
        (".nii.gz", "flow", "empty-gzip", _gz(b"")),
        (
            ".tfm",
            "transform",
            "singular",
            _tfm("AffineTransform_double_3_3", "1 0 0 0 0 0 0 0 1 0 0 0"),
        ),
        (
            ".tfm",
            "transform",
            "nan",
            _tfm("AffineTransform_double_3_3", "nan 0 0 0 1 0 0 0 1 0 0 0"),
        ),
        (
            ".tfm",
            "transform",
            "two-dimensional-too-few-numbers",
            _tfm("AffineTransform_double_2_2", "1 0 0 1 0", "0 0"),
        ),
        (".tfm", "transform", "too-few-numbers", _tfm("AffineTransform_double_3_3", "1 0 0 0 1")),
        (
            ".tfm",
            "transform",
            "words-for-numbers",
            _tfm("AffineTransform_double_3_3", "a b c d e f g h i j k l"),
        ),
        (
            ".tfm",
            "transform",
            "kernel-unsupported",
            _tfm("ThinPlateSplineKernelTransform_double_3_3", "0.1 0.2 0.3 1 2 3", "0 0 0"),
        ),
        (".tfm", "transform", "no-transform-line", b"#Insight Transform File V1.0\n"),
        (".mat", "transform", "fsl-three-rows", b"1 0 0 0\n0 1 0 0\n0 0 1 0\n"),
        (".mat", "transform", "fsl-singular", b"1 0 0 0\n0 1 0 0\n0 0 0 0\n0 0 0 1\n"),
        (".mat", "transform", "fsl-nan", b"nan 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n"),
        (".mat", "transform", "matlab-junk", b"MATLAB 5.0 MAT-file\0" + bytes(200)),
        (".h5", "transform", "not-hdf5", b"\x89HDF\r\n\x1a\n" + bytes(100)),
        (".nii.gz", "transform", "field-of-scalars", _gz(_field((8, 9, 10)))),
        (".nii.gz", "transform", "field-of-nan", _gz(_field(fill=np.nan))),
        (".nii.gz", "transform", "field-zero-affine", _gz(_with_sform(_field(), np.zeros((3, 4))))),
        (".1D", "transform", "afni-too-few", b"1 0 0 0 0 1 0 0\n"),
        (".lta", "transform", "lta-junk", b"type = 0\nnxforms = 1\nmean = 0 0 0\n"),
        (".jsonl", "replay", "not-json", b"{not json\n"),
        (".jsonl", "replay", "json-but-not-a-log", b'{"hello": 1}\n'),
        (".jsonl", "replay", "empty", b""),
    ]
    return cases


def _seeds() -> list[tuple[str, str, bytes]]:
    """(suffix, role, good bytes) whose damaged copies are in the corpus."""
    flow = _npy(np.zeros((20, 24, 2), np.float32))
    fsl = b"1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n"
    return [
        (".png", "input", _png()),
        (".jpg", "input", _pillow("JPEG")),
        (".tif", "input", _pillow("TIFF")),
        (".tif", "input", _tiff_stack()),
        (".npy", "input", _npy(np.zeros((6, 7, 8), np.float32))),
        (".nii", "input", _nifti()),
        (".nii.gz", "input", _gz(_nifti())),
        (".npy", "flow", flow),
        (".nii", "reference", _nifti()),
        (".tfm", "transform", _tfm("AffineTransform_double_3_3", "1 0 0 0 1 0 0 0 1 0 0 0")),
        (".mat", "transform", fsl),
        (".nii.gz", "transform", _gz(_field())),
    ]


def _volume_seeds(seeds):
    """The input seeds a chunked (windowed) reader takes too: ``.npy``, ``.nii``, TIFF stacks."""
    return [
        (f"x{suffix}", role, good)
        for suffix, role, good in seeds
        if role == "input" and suffix in (".npy", ".nii", ".tif") and _is_stack(suffix, good)
    ]


def _is_stack(suffix: str, data: bytes) -> bool:
    if suffix != ".tif":
        return True
    import tifffile

    with tifffile.TiffFile(io.BytesIO(data)) as tiff:
        return len(tiff.pages) > 1


def corpus(folder: Path) -> list[BadFile]:
    """Write the corpus under ``folder`` (created) and return its files.

    The good files its commands need besides (``good.png``, ``good.nii``, ``rotate.yaml``)
    are written too; see :func:`command`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_helpers(folder)
    files: list[BadFile] = []

    def add(suffix: str, role: str, fault: str, data: bytes, seed: str | None = None) -> None:
        kind = suffix.lstrip(".").replace(".", "-")
        name = f"{role}-{kind}-{fault}-{len(files)}{suffix}"
        (folder / name).write_bytes(data)
        files.append(BadFile(name, role, f"{role}-{kind}-{fault}", seed))

    seeds = _seeds()
    seeds += [("." + s.split(".", 1)[1], "chunked", g) for s, r, g in _volume_seeds(seeds)]
    for index, (suffix, role, good) in enumerate(seeds):
        seed = f"seed-{index}{suffix}"
        (folder / seed).write_bytes(good)
        for fault, data in _damaged(good).items():
            if len(data) == len(good) or (fault == "last-byte-cut" and good.endswith(b"\n")):
                continue  # not cut (a short file), or a text file without its last newline
            add(suffix, role, fault, data, seed)
    for suffix, role, fault, data in _specific():
        add(suffix, role, fault, data)
    for fault, build in _ZARR_FAULTS.items():
        name = f"zarr-{fault}-{len(files)}.zarr"
        build(folder / name)
        files.append(BadFile(name, "zarr", f"zarr-{fault}"))
    return files


def _write_helpers(folder: Path) -> None:
    (folder / "good.png").write_bytes(_png())
    (folder / "good.nii").write_bytes(_nifti())
    (folder / "rotate.yaml").write_text("version: 1\ntransform: {affine: {scale: 1.5}}\n")


def command(folder: Path, bad: BadFile, seed: bool = False) -> list[str]:
    """The ``gswarp apply`` arguments that give ``bad`` (or, with ``seed``, the good file it
    was cut from) its role; the output goes to the folder :func:`output_folder` names."""
    name = bad.seed if seed and bad.seed else bad.name
    path = str(folder / name)
    out = str(output_folder(folder, bad, seed)) + "/"
    if bad.role == "chunked":
        return [str(folder / "rotate.yaml"), path, "-o", out.rstrip("/")]
    if bad.role in ("input", "zarr"):
        return [str(folder / "rotate.yaml"), path, "-o", out]
    if bad.role == "flow":
        spec = folder / f"{name}.yaml"
        spec.write_text(f"version: 1\ntransform: {{flow: {{path: {json.dumps(path)}}}}}\n")
        return [str(spec), str(folder / "good.png"), "-o", out]
    if bad.role == "transform":
        good = str(folder / "good.nii")
        return ["-t", path, "-r", good, good, "-o", out]
    if bad.role == "reference":
        return ["-r", path, str(folder / "good.nii"), "-o", out]
    return ["--replay", path, "-o", out]


def output_folder(folder: Path, bad: BadFile, seed: bool = False) -> Path:
    """Where :func:`command` sends the outputs of ``bad`` (or of its seed)."""
    suffix = ".zarr" if bad.role == "chunked" else ""  # a Zarr output: volumes in windows
    return folder / (f"out-{bad.name}" + ("-seed" if seed else "") + suffix)


# --------------------------------------------------------------------------------------------
# Zarr stores


def _zarr_v2(folder: Path, zarray: str | None, chunk: bytes | None = None) -> None:
    folder.mkdir()
    (folder / ".zgroup").write_text('{"zarr_format": 2}')
    if zarray is not None:
        (folder / ".zarray").write_text(zarray)
    if chunk is not None:
        (folder / "0.0.0").write_bytes(chunk)


_ZARRAY = json.dumps(
    {
        "zarr_format": 2,
        "shape": [6, 7, 8],
        "chunks": [6, 7, 8],
        "dtype": "<f4",
        "compressor": None,
        "fill_value": 0,
        "order": "C",
        "filters": None,
    }
)

_ZARR_FAULTS: dict[str, Callable[[Path], None]] = {
    "empty-folder": lambda p: p.mkdir(),
    "metadata-not-json": lambda p: _zarr_v2(p, "{not json"),
    "metadata-wrong-shape": lambda p: _zarr_v2(
        p, _ZARRAY.replace('[6, 7, 8], "chunks', '"x", "chunks')
    ),
    "chunk-too-short": lambda p: _zarr_v2(p, _ZARRAY, bytes(10)),
}


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bad-files")
    for entry in corpus(target):
        print(STATUS[entry.role], " ".join(command(target, entry)))
