"""gswarp.run.allocator: glibc's thresholds for chunk tasks, and a Dask worker's share of memory."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

from gswarp.run import allocator

MIB = 2**20


class _FakeLibrary:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append(("mallopt", parameter, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def fake_glibc(monkeypatch):
    library = _FakeLibrary()
    monkeypatch.setattr(allocator, "_glibc", lambda: library)
    monkeypatch.setattr(allocator, "_kept", False)
    return library


def test_keep_large_buffers_sets_both_thresholds_once(fake_glibc):
    allocator.keep_large_buffers(16 * MIB)
    allocator.keep_large_buffers(32 * MIB)  # the first call decides
    assert fake_glibc.calls == [("mallopt", -3, 16 * MIB), ("mallopt", -1, 16 * MIB)]


def test_restore_puts_back_the_environment_settings(fake_glibc, monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # what Dask's nanny sets
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    allocator.keep_large_buffers()
    fake_glibc.calls.clear()
    allocator.restore()
    assert fake_glibc.calls == [
        ("mallopt", -3, 128 * 1024),
        ("mallopt", -1, 65536),
        ("malloc_trim", 0),
    ]
    fake_glibc.calls.clear()
    allocator.keep_large_buffers()  # a later run sets them again
    assert len(fake_glibc.calls) == 2


def test_restore_without_keep_only_trims(fake_glibc):
    allocator.restore()
    assert fake_glibc.calls == [("malloc_trim", 0)]


def test_no_glibc_is_no_error(monkeypatch):
    monkeypatch.setattr(allocator, "_glibc", lambda: None)
    monkeypatch.setattr(allocator, "_kept", False)
    allocator.keep_large_buffers()
    allocator.restore()
    allocator.release_free_memory()


_FAULTS = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    try:  # count 4 KiB pages: NumPy asks for huge pages for large arrays where the kernel can
        np._core.multiarray._set_madvise_hugepage(False)
    except AttributeError:
        np.core.multiarray._set_madvise_hugepage(False)
    from gswarp.run import allocator
    if sys.argv[1] == "keep":
        allocator.keep_large_buffers()
    np.ones(2**20, np.float32)  # warm up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(40):
        np.ones(2**20, np.float32)  # a 4 MiB buffer, written and freed
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="needs glibc"
)
def test_large_buffers_are_reused_under_dasks_trim_setting():
    """Under Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` every 4 MiB buffer is fresh pages (about
    1024 page faults each); after keep_large_buffers the heap reuses them."""
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    faults = {}
    for mode in ("default", "keep"):
        result = subprocess.run(
            [sys.executable, "-c", _FAULTS, mode], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        faults[mode] = int(result.stdout.split()[-1])
    assert faults["default"] > 40 * 512, faults  # each buffer faulted in again
    assert faults["keep"] < faults["default"] / 10, faults


class _FakeWorker:
    def __init__(self, limit) -> None:
        self.memory_manager = type("Manager", (), {"memory_limit": limit})()


@pytest.mark.parametrize(
    ("limit", "kept", "budget"),
    [
        (512 * MIB, [], int(0.15 * 512 * MIB)),  # no room: Dask's allocator setting stays
        (4096 * MIB, [32 * MIB], int(0.15 * 4096 * MIB) - 64 * MIB),
        (64 * MIB, [], 16 * MIB),  # never below the floor
        (None, [32 * MIB], None),  # no limit: the cache keeps its size
    ],
)
def test_worker_share_of_memory(monkeypatch, limit, kept, budget):
    pytest.importorskip("distributed")
    import distributed

    from gswarp.run import zarr_job as chunked

    thresholds = []
    monkeypatch.setattr(distributed, "get_worker", lambda: _FakeWorker(limit))
    monkeypatch.setattr(
        allocator,
        "keep_large_buffers",
        lambda threshold=allocator.THRESHOLD: thresholds.append(threshold),
    )
    monkeypatch.setattr(chunked, "CACHE_BYTES", 1024 * MIB)
    monkeypatch.setattr(chunked._CHUNKS, "budget", 123)
    chunked._prepare_worker()
    assert thresholds == kept
    assert chunked._CHUNKS.budget == (123 if budget is None else budget)


def test_outside_a_worker_nothing_changes(monkeypatch):
    pytest.importorskip("distributed")
    from gswarp.run import zarr_job as chunked

    kept = []
    monkeypatch.setattr(allocator, "keep_large_buffers", kept.append)
    monkeypatch.setattr(chunked._CHUNKS, "budget", 123)
    chunked._prepare_worker()
    assert kept == [] and chunked._CHUNKS.budget == 123
