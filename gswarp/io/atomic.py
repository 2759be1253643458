"""Atomic output files: write a temporary file beside the target, rename it when complete.

A reader never sees a partial output, an interrupted run leaves no file behind, and without
``overwrite`` an existing file is never replaced (not even one that appears while we write).
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import re
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from gswarp.errors import CancelledError, GswarpError, InputError

__all__ = ["RUN", "atomic_output", "clean_leftovers", "written_by_this_run"]

RUN: contextvars.ContextVar[str | None] = contextvars.ContextVar("gswarp_run", default=None)
"""The token of the run whose cluster task writes in this context (None elsewhere): each
output it publishes carries it (the extended attribute ``user.gswarp.run``), so that a task
Dask reschedules after its worker died recognises the outputs it had already written."""

_RUN_ATTRIBUTE = "user.gswarp.run"


_HOST = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
_LEFTOVER = re.compile(r"^\..+\.gswarp-(\d+)@([A-Za-z0-9_.-]+)\.[A-Za-z0-9_]+\.tmp$")
_CLEANED: set[str] = set()
_CLEANED_LOCK = threading.Lock()


def _owner() -> str:
    """In every temporary file's name: who may remove it (read at each call: a forked child
    writes under its own pid)."""
    return f"gswarp-{os.getpid()}@{_HOST}"


def clean_leftovers(folder: Path) -> list[Path]:
    """Remove the temporary files that a gswarp process on this machine left in ``folder``
    when it was killed (SIGKILL, a power cut: no handler ran), once per folder and process.
    Only files of gswarp's own naming whose process is gone are touched: a run that still
    writes (on this host or another sharing the folder) keeps its files. Returns them."""
    key = os.path.abspath(folder)
    with _CLEANED_LOCK:
        if key in _CLEANED:
            return []
        _CLEANED.add(key)
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _LEFTOVER.match(name)
        if match is None or match.group(2) != _HOST or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))
            removed.append(Path(folder) / name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def written_by_this_run(target: Path) -> bool:
    """Whether ``target`` was published by this run (:data:`RUN`; False where the file system
    keeps no extended attributes)."""
    token = RUN.get()
    if token is None:
        return False
    try:
        return os.getxattr(target, _RUN_ATTRIBUTE) == token.encode()
    except (OSError, AttributeError):  # absent, unsupported, or no xattrs on this platform
        return False


def _mark(temporary: str) -> None:
    token = RUN.get()
    if token is not None:
        with contextlib.suppress(OSError, AttributeError):
            os.setxattr(temporary, _RUN_ATTRIBUTE, token.encode())


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()  # what open() would have given; mkstemp gives 0600


@contextlib.contextmanager
def atomic_output(
    target: Path, *, overwrite: bool = False, cancelled: threading.Event | None = None
) -> Iterator[BinaryIO]:
    """Open a temporary file for ``target``; on a clean exit it becomes ``target``.

    Raises
    ------
    InputError
        ``target`` exists and ``overwrite`` is false, or its folder cannot be written.
    CancelledError
        ``cancelled`` was set before the rename; the temporary file is removed.
    """
    target = Path(target)
    if not overwrite and target.exists():
        raise InputError(f"{target}: already exists (use --overwrite to replace it)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(target.parent)
        fd, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.{_owner()}.", suffix=".tmp"
        )
    except OSError as error:
        raise InputError(f"{target}: cannot write: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        os.chmod(temporary, _FILE_MODE)
        _mark(temporary)
        if cancelled is not None and cancelled.is_set():
            raise CancelledError(f"{target}: interrupted before it was complete; not written")
        _publish(temporary, target, overwrite)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(error, OSError) and not isinstance(error, GswarpError):
            # a full disk or a quota while writing: the output's name, not the input's
            raise InputError(f"{target}: cannot write: {error.strerror or error}") from None
        raise


def _publish(temporary: str, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)  # fails if target appeared meanwhile: never clobbers
    except FileExistsError:
        raise InputError(f"{target}: already exists (use --overwrite to replace it)") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise InputError(f"{target}: cannot write: {error.strerror or error}") from None
        if target.exists():  # a file system without hard links: check, then rename
            raise InputError(f"{target}: already exists (use --overwrite to replace it)") from None
        os.replace(temporary, target)
        return
    os.unlink(temporary)
