"""The CUDA kernels' bodies on the CPU: ``src/cuda/*.cu`` built by the host C++ compiler with
``-DGSWARP_CUDA_HOST`` (``src/cuda/host_emulation.hpp``), loaded with ctypes, and a runner with
:class:`gswarp.engine.cuda_core.CupyRunner`'s interface that launches them.

The library is built once per content of the sources (a hash in its name, in the system's
temporary folder, written under a temporary name and renamed: parallel test workers share it).
``GSWARP_CUDA_HOST_FLAGS`` adds compiler flags (``tools/check_sanitizers.sh``: the sanitizers).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import numpy as np

from gswarp.engine import cuda_core

FLAGS = ["-std=c++17", "-O1", "-fPIC", "-shared", "-DGSWARP_CUDA_HOST", "-ffp-contract=off",
         "-fno-fast-math", "-Wall", "-Wextra", "-Werror"]  # fmt: skip


def compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++")


@cache
def library() -> ctypes.CDLL:
    """The host build of the CUDA sources (built on first use)."""
    folder = cuda_core.sources()
    extra = os.environ.get("GSWARP_CUDA_HOST_FLAGS", "").split()
    # the compiled text carries a digest of every source it includes
    digest = hashlib.sha256(
        " ".join(FLAGS + extra).encode() + cuda_core.source_text(folder).encode()
    )
    target = Path(tempfile.gettempdir()) / f"gswarp_cuda_host_{digest.hexdigest()[:16]}.so"
    if not target.exists():
        partial = target.with_suffix(f".{os.getpid()}.part")
        command = [compiler(), "-x", "c++", *FLAGS, *extra, f"-I{folder}", f"-I{folder / 'cuda'}",
                   str(folder / "cuda" / "kernels.cu"), "-o", str(partial)]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, text=True)
        partial.replace(target)
    lib = ctypes.CDLL(str(target))
    lib.gswarp_cuda_host_launch.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64,
                                            ctypes.c_uint, ctypes.c_uint]  # fmt: skip
    lib.gswarp_cuda_host_launch.restype = ctypes.c_int
    lib.gswarp_cuda_host_layout.argtypes = [ctypes.c_char_p]
    lib.gswarp_cuda_host_layout.restype = ctypes.c_int64
    return lib


class HostRunner:
    """Runs the kernels' host build on NumPy arrays, with ``threads`` threads per block and at
    most ``max_blocks`` blocks (small, so the grid-stride loop takes several turns)."""

    def __init__(self, threads: int = 32, max_blocks: int = 5) -> None:
        self.threads, self.max_blocks = threads, max_blocks
        self.launched: list[str] = []

    def constant(self, array):
        return np.ascontiguousarray(array)

    def device(self, array):
        return np.asarray(array)

    def on_device(self, array) -> bool:
        return isinstance(array, np.ndarray)

    def output(self, out):
        return out

    def copy_back(self, written, out) -> None:
        assert written is out

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype)

    def empty(self, shape, dtype):
        return np.empty(shape, dtype)

    def host(self, array) -> np.ndarray:
        return array

    def field(self, array):
        return np.ascontiguousarray(array, np.float32 if array.dtype == np.float32 else np.float64)

    def launch(self, name: str, packed: bytes, layout: np.dtype, total: int) -> None:
        assert len(packed) == layout.itemsize
        blocks = max(1, min(-(-total // self.threads), self.max_blocks))
        status = library().gswarp_cuda_host_launch(
            name.encode(), packed, total, blocks, self.threads
        )
        if status != 0:
            raise LookupError(f"no kernel {name} in the host build")
        self.launched.append(name)
