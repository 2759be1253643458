"""Draw logs: one JSON line per written output (``gswarp apply --log``), read back by
``gswarp apply --replay``.

A line holds everything needed to write the same bytes again without the original spec::

    {"input": "../data/cat.png", "input_absolute": "/data/cat.png", "sha256": "9f86d0…",
     "output": "out/cat_001.png", "output_absolute": "/work/out/cat_001.png", "name": "cat_001.png",
     "target": null, "key": "cat.png", "variant": 1, "seed": 7,
     "draws": {"transform[0].affine.rotate": -3.52, "transform[1].p": 0.31},
     "applied": [true, true], "elastic_seeds": [8412…],
     "matrix": [[…], […], [0, 0, 1]],
     "spec": {…the drawn spec, every default filled in…},
     "write": {"format": null, "quality": null, "compress_level": null}}

``input`` and ``output`` are relative to the log's folder, so a tree moved or copied together
with its log replays; ``input_absolute`` and ``output_absolute`` are the fallback for a log
moved on its own. ``sha256`` is the input's content hash: replay refuses an input that changed.
``name`` is the output's path relative to ``-o`` (replay with another ``-o`` writes there);
``target`` names a paired target (its own line, with its own sampling in ``spec``); ``matrix``
is the forward input-pixel -> output-pixel matrix (null when the map goes through a field).
Floats are written with ``repr`` precision, so the drawn spec is exactly the one used. Flow
fields in ``spec`` are named by absolute path. When a log is appended to (a resumed run), a
later line for the same output replaces the earlier one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gswarp.errors import InputError, SpecError
from gswarp.spec import ElasticSpec, FlowSpec, WarpSpec, parse_spec

try:
    import fcntl
except ImportError:  # Windows: no POSIX record locks; lines are still appended whole
    fcntl = None  # type: ignore[assignment]

__all__ = ["DrawLog", "LogEntry", "file_digest", "file_state", "read_log", "record"]

_REQUIRED = ("input", "output", "name", "spec", "write")


def _spec_data(spec: WarpSpec) -> dict[str, Any]:
    """The spec's normalized form with flow fields named by absolute path (cwd-independent)."""
    data = spec.normalized()
    for item, transform in zip(data["transform"], spec.transforms, strict=True):
        if isinstance(transform, FlowSpec):
            item["flow"]["path"] = str(transform.resolved)
    return data


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_state(path: Path) -> tuple[int, ...]:
    """What changes when a file is written or replaced: device, inode, size, modification and
    status-change times (the latter no tool can set back)."""
    status = os.stat(path)
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def record(
    *,
    source: Path,
    sha256: str,
    output: Path,
    name: Path,
    target: str | None,
    key: str,
    variant: int,
    seed: int | None,
    draws: dict[str, float],
    applied: tuple[bool, ...],
    spec: WarpSpec,
    matrix: Any,
    write: dict[str, Any],
) -> dict[str, Any]:
    """One log line (as a dict) for an output written with the concrete ``spec`` from
    ``source``, whose bytes as they were read hash to ``sha256``."""
    return {
        "input": os.path.abspath(source),
        "sha256": sha256,
        "output": os.path.abspath(output),
        "name": name.as_posix(),
        "target": target,
        "key": key,
        "variant": variant,
        "seed": seed,
        "draws": draws,
        "applied": list(applied),
        "elastic_seeds": [t.seed for t in spec.transforms if isinstance(t, ElasticSpec)],
        "matrix": None if matrix is None else [[float(v) for v in row] for row in matrix],
        "spec": _spec_data(spec),
        "write": write,
    }


class DrawLog:
    """Writes :func:`record` lines to the log file at ``path``: paths relative to the log's
    folder, the absolute ones beside them.

    Lines are appended whole: each is one ``write`` to a file opened with ``O_APPEND``, under
    a lock (POSIX record locks, which NFS carries too), so runs that append to one log at once
    interleave whole lines. A line that cannot be written whole (a full disk) is cut off again.
    A run that starts a log (``append=False``) holds it alone while it empties it: another
    run writing to it makes it an error, not a silent loss of that run's lines. Opening for
    appending repairs an incomplete last line left by an interrupted writer (it is removed,
    and ``repaired`` says how many bytes).

    Raises
    ------
    InputError
        The log cannot be opened, is being started by another run, or (``write``) a line
        cannot be written.
    """

    _RUN_LOCK = (1, 0)  # (length, start): held for the run, shared by appending runs
    _LINE_LOCK = (1, 1)  # held while one line is appended

    def __init__(self, path: Path, append: bool) -> None:
        self.path = Path(path)
        self.folder = Path(os.path.abspath(path)).parent
        self.repaired = 0
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)  # out/draws.jsonl before out/
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        except OSError as error:
            raise InputError(f"--log {path}: cannot write: {error.strerror}") from None
        try:
            self._open(append)
        except BaseException:
            os.close(self._fd)
            raise

    def _open(self, append: bool) -> None:
        regular = self._regular = stat.S_ISREG(os.fstat(self._fd).st_mode)
        self._locking = regular and fcntl is not None
        if self._locking:
            try:
                self._lock_run(append)
            except OSError as error:
                if error.errno in (errno.EACCES, errno.EAGAIN):
                    raise InputError(
                        f"--log {self.path}: another gswarp run is writing this log; give each "
                        "run its own log (or append with --skip-existing)"
                    ) from None
                self._locking = False  # a file system without record locks: write unlocked
        if not regular:  # a pipe or a terminal (--log /dev/stderr): lines, nothing to repair
            return
        with self._line_lock():
            if append:
                self.repaired = self._repair_tail()
            else:
                os.ftruncate(self._fd, 0)
        if self._locking and not append:
            fcntl.lockf(self._fd, fcntl.LOCK_SH, *self._RUN_LOCK)  # appending runs may join

    def _lock_run(self, append: bool) -> None:
        """Appending runs share the log; a run that starts it holds it alone while it empties
        it (then shares it too): another run writing it is an error, not a silent loss."""
        if append:
            fcntl.lockf(self._fd, fcntl.LOCK_SH, *self._RUN_LOCK)
        else:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, *self._RUN_LOCK)

    @contextlib.contextmanager
    def _line_lock(self) -> Iterator[None]:
        with self._lock:
            if not self._locking:
                yield
                return
            fcntl.lockf(self._fd, fcntl.LOCK_EX, *self._LINE_LOCK)
            try:
                yield
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, *self._LINE_LOCK)

    def _repair_tail(self) -> int:
        """Cut an incomplete last line (no newline at its end); returns the bytes removed."""
        size = os.fstat(self._fd).st_size
        if size == 0 or os.pread(self._fd, 1, size - 1) == b"\n":
            return 0
        end = size
        while end > 0:
            start = max(0, end - (1 << 16))
            block = os.pread(self._fd, end - start, start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
        os.ftruncate(self._fd, keep)
        return size - keep

    def write(self, entry: dict[str, Any]) -> None:
        """Append one line, whole, and flush it (an interrupted run keeps the lines of its
        outputs)."""
        line = dict(entry)
        for key in ("input", "output"):
            absolute = entry[key]
            line[key] = Path(os.path.relpath(absolute, self.folder)).as_posix()
            line[f"{key}_absolute"] = absolute
        data = (json.dumps(line, allow_nan=False) + "\n").encode("utf-8")
        with self._line_lock():
            size = os.fstat(self._fd).st_size if self._regular else 0
            try:
                written = 0
                while written < len(data):
                    written += os.write(self._fd, data[written:])
            except OSError as error:
                if self._regular:
                    with contextlib.suppress(OSError):
                        os.ftruncate(self._fd, size)  # no half line for the next reader
                raise InputError(
                    f"--log {self.path}: cannot append a line: {error.strerror} (the lines "
                    "before it are whole)"
                ) from None

    def close(self) -> None:
        os.close(self._fd)  # releases the locks

    def __enter__(self) -> DrawLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class LogEntry:
    """A line of a draw log, read back: the drawn ``spec`` and where it goes."""

    line: int
    source: Path
    output: Path
    name: Path
    spec: WarpSpec
    write: dict[str, Any]
    sha256: str | None = None
    """The input's content hash when it was logged (None in logs written before it existed)."""
    looked: tuple[Path, ...] = ()
    """Where the input was looked for, in order (``source`` is the first that exists, else the
    first)."""
    target: str | None = None
    """The paired target's name (``--pair NAME=DIR``), None for the input's own output."""
    unit: tuple = ()
    """The lines written together -- an input and its paired targets, one draw -- share it:
    ``(key, variant, seed)``; a line of an older log without a key is a unit of its own."""


def read_log(path: Path) -> Iterator[LogEntry]:
    """The entries of a draw log, in order.

    Raises
    ------
    SpecError
        The log cannot be read, a line is not JSON, lacks a key, or holds a spec that does not
        validate; the message names ``file:line``.
    """
    path = Path(path)
    try:
        stream = path.open(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: cannot read the draw log: {error.strerror}") from None
    with stream:
        for number, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            yield _entry(path, number, text)


def _entry(path: Path, number: int, text: str) -> LogEntry:
    where = f"{path}:{number}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SpecError(f"{where}: not a JSON line ({error.msg})") from None
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a JSON object, got {type(data).__name__}")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise SpecError(f"{where}: missing key {missing[0]!r} (not a gswarp draw log?)")
    if not isinstance(data["write"], dict):
        raise SpecError(f"{where}: write: expected an object")
    spec = parse_spec(yaml.safe_dump(data["spec"], sort_keys=False), f"{where} spec")
    if spec.is_random:
        raise SpecError(f"{where}: spec: expected a drawn spec, got one with random values")
    folder = Path(os.path.abspath(path)).parent
    inputs = _candidates(folder, data["input"], data.get("input_absolute"))
    source = next((p for p in inputs if p.exists()), inputs[0])
    outputs = _candidates(folder, data["output"], data.get("output_absolute"))
    key = data.get("key")
    unit = ("unit", key, data.get("variant"), data.get("seed")) if key else ("line", number)
    return LogEntry(
        number,
        source,
        outputs[0],
        Path(data["name"]),
        spec,
        data["write"],
        data.get("sha256"),
        inputs,
        data.get("target"),
        unit,
    )


def _candidates(folder: Path, written: str, absolute: str | None) -> tuple[Path, ...]:
    """A logged path: relative to the log's folder first, then its absolute fallback."""
    first = folder / written  # an absolute ``written`` (older logs) stays as it is
    return (first,) if absolute is None or Path(absolute) == first else (first, Path(absolute))
