"""What the engine may tell a person while it works, without importing numba to say it.

The library prints nothing: a front end (the command line) sets :data:`compile_notice` to show a
line when a kernel takes long to compile -- the first use of each kernel on a new installation
compiles it (seconds); later runs load it from numba's disk cache (milliseconds).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["COMPILE_NOTICE_SECONDS", "compile_notice"]

COMPILE_NOTICE_SECONDS = 1.0
"""How long a kernel may take to compile or load before :data:`compile_notice` is called."""

compile_notice: Callable[[str], None] | None = None
"""Called from a timer thread with the kernel's name when its compilation passes
:data:`COMPILE_NOTICE_SECONDS`; ``None`` (the library's default) says nothing."""
