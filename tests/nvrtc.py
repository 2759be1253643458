"""NVRTC, the run-time CUDA compiler CuPy builds gswarp's kernels with, called through ctypes:
the tests compile the CUDA sources as CuPy would (same options, same name expressions) on
machines with no GPU (NVRTC needs none). The library comes from the ``nvidia-cuda-nvrtc``
wheel (the test extras install it) or a CUDA toolkit."""

from __future__ import annotations

import ctypes
import glob
import os
import site
from functools import cache


@cache
def library() -> ctypes.CDLL | None:
    """libnvrtc, or None where none is found."""
    folders = [os.path.join(p, "nvidia", "cu13", "lib") for p in site.getsitepackages()]
    folders += [os.path.join(p, "nvidia", "cuda_nvrtc", "lib") for p in site.getsitepackages()]
    folders += ["/usr/local/cuda/lib64", "/usr/local/cuda/lib"]
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "libnvrtc.so*")), reverse=True):
            if "builtins" in path:
                continue
            try:
                # its builtins first, from the same folder: libnvrtc opens them by name, which
                # fails where its own folder is not searched (a process under LD_PRELOAD)
                for builtins in glob.glob(os.path.join(folder, "libnvrtc-builtins.so*")):
                    ctypes.CDLL(builtins, mode=ctypes.RTLD_GLOBAL)
                return ctypes.CDLL(path)
            except OSError:
                continue
    return None


def compile_program(source: str, options: list[str], names: list[str]) -> tuple[int, str, bytes]:
    """(NVRTC's result code, its log, the PTX) of ``source`` compiled with ``options`` for the
    kernels named by the name expressions ``names``."""
    lib = library()
    program = ctypes.c_void_p()
    status = lib.nvrtcCreateProgram(
        ctypes.byref(program), source.encode(), b"kernels.cu", 0, None, None
    )
    if status != 0:
        return status, "nvrtcCreateProgram failed", b""
    try:
        for name in names:
            lib.nvrtcAddNameExpression(program, name.encode())
        encoded = [o.encode() for o in options]
        status = lib.nvrtcCompileProgram(
            program, len(encoded), (ctypes.c_char_p * len(encoded))(*encoded)
        )
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(program, log)
        ptx = b""
        if status == 0:
            lib.nvrtcGetPTXSize(program, ctypes.byref(size))
            buffer = ctypes.create_string_buffer(size.value)
            lib.nvrtcGetPTX(program, buffer)
            ptx = buffer.raw
        return status, log.value.decode(errors="replace"), ptx
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(program))
