"""Running gswarp's tasks on Dask: the threaded scheduler in this process (the default, no
cluster needed), a ``LocalCluster`` of worker processes, or a running ``dask.distributed``
scheduler.

``--cluster`` values: ``local`` or ``local:N`` (N worker processes; default: one per two cores),
``tcp://HOST:PORT`` (a running scheduler; ``DASK_SCHEDULER_ADDRESS``, dask's own setting, is read
when ``--cluster`` is not given). Workers of a remote cluster must see the same files and stores
(a shared file system or an object store).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import signal
from collections.abc import Callable, Iterator, Sequence

from gswarp.errors import BackendError, GswarpError, InputError, first_line

__all__ = ["Scheduler", "cluster_from_environment"]

CONNECT_TIMEOUT = "5s"
CLOSE_TIMEOUT = 10
"""Seconds the client and a LocalCluster each get to close."""

LOGGER = logging.getLogger("gswarp")


def _dask():
    try:
        import dask
    except ImportError:
        raise BackendError(
            "Dask scheduling needs the zarr extra: pip install 'gswarp[zarr]'"
        ) from None
    return dask


def _distributed():
    try:
        import distributed
    except ImportError:
        raise BackendError(
            "--cluster needs dask.distributed (the zarr extra): pip install 'gswarp[zarr]'"
        ) from None
    return distributed


def cluster_from_environment() -> str | None:
    """dask's own scheduler setting (``DASK_SCHEDULER_ADDRESS`` or its config), if any."""
    address = os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        return address
    try:
        import dask

        return dask.config.get("scheduler-address", None)
    except ImportError:
        return None


def worker_memory_limit() -> int | bool | None:
    """The memory limit of the Dask worker running this code (bytes; None or 0: none), False
    outside a worker."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return False
    return getattr(getattr(worker, "memory_manager", None), "memory_limit", None)


class Scheduler:
    """Runs batches of ``(function, args)`` calls and reports each result as it arrives."""

    def __init__(self, jobs: int | None, client=None, cluster=None, description: str = "") -> None:
        self.jobs = jobs
        self.client = client
        self.cluster = cluster
        self.description = description

    @classmethod
    def threads(cls, jobs: int | None = None) -> Scheduler:
        from gswarp.cores import available_cores

        jobs = jobs or available_cores()
        return cls(jobs, description=f"dask threaded scheduler, {jobs} threads")

    @classmethod
    def connect(cls, cluster: str, jobs: int | None = None, origin: str = "--cluster") -> Scheduler:
        """A scheduler for a ``--cluster`` value (``origin``: where the value came from, for
        messages: ``--cluster`` or ``DASK_SCHEDULER_ADDRESS``).

        A ``LocalCluster`` listens on 127.0.0.1 only, its dashboard too.

        Raises
        ------
        InputError
            A malformed value, more local workers than cores, or a scheduler that does not
            answer within a few seconds.
        """
        distributed = _distributed()
        named = f"{origin} {cluster}" if origin.startswith("-") else f"{origin}={cluster}"
        if cluster == "local" or cluster.startswith("local:"):
            count, _, memory = cluster.partition(",")
            workers = _local_workers(count, named)
            limit = _memory_limit(memory, named) if memory else "auto"
            local = client = None
            try:
                with _workers_spared_terminal_signals():
                    local = distributed.LocalCluster(
                        n_workers=workers,
                        threads_per_worker=2,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address="127.0.0.1:0",
                        memory_limit=limit,
                        silence_logs=logging.CRITICAL,  # their warnings, tracebacks of
                    )  # cancelled tasks: gswarp reports failed tasks itself, one line each
                    client = distributed.Client(local)
                each = f", {memory} each" if memory else ""
                return cls(jobs, client, local, f"LocalCluster, {workers} worker processes{each}")
            except BaseException:  # Ctrl-C while it started (held until now): stop what began
                cls(jobs, client, local).close()
                raise
        if not re.match(r"^(tcp|tls|ucx|ws|wss)://[^/:]+:\d+/?$", cluster):
            raise InputError(
                f"{named}: expected local, local:N or a scheduler address with its port, such "
                "as tcp://host:8786"
            )
        try:
            client = distributed.Client(cluster, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise InputError(
                f"{named}: no Dask scheduler answered within {CONNECT_TIMEOUT} "
                f"({type(error).__name__})"
            ) from None
        except (ValueError, TypeError) as error:  # distributed's words for addresses it refuses
            raise InputError(f"{named}: not a usable scheduler address ({error})") from None
        return cls(jobs, client, None, f"Dask cluster at {cluster}")

    @property
    def dashboard(self) -> str | None:
        return getattr(self.client, "dashboard_link", None) if self.client else None

    def worker_threads(self) -> int:
        """Task slots of the cluster (its workers' threads together)."""
        if self.client is None:
            return self.jobs or 1
        info = self.client.scheduler_info()
        return max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def threads_per_task(self) -> int | None:
        """Kernel threads for each task of a LocalCluster (the cores shared by its worker
        processes); None for a remote cluster (its workers' own settings)."""
        if self.cluster is None:
            return None
        from gswarp.cores import available_cores

        return max(1, available_cores() // max(1, len(self.cluster.workers)))

    def run(
        self,
        function: Callable,
        shared: object,
        arguments: Sequence[tuple],
        done: Callable | None = None,
    ) -> None:
        """Call ``function(shared, *args)`` for every ``args`` of ``arguments``; ``done(result)``
        for each, in completion order. ``shared`` (a run's settings, a flow field) goes to each
        cluster worker once, not with every task. A failing call cancels the others and raises;
        so does Ctrl-C (KeyboardInterrupt)."""
        if not arguments:
            return
        if self.client is None:
            self._run_threads(function, shared, arguments, done)
        else:
            self._run_distributed(function, shared, arguments, done)

    def _run_threads(self, function, shared, arguments, done) -> None:
        dask = _dask()
        from dask.callbacks import Callback

        call = functools.partial(function, shared)
        tasks = [dask.delayed(call, pure=False)(*args) for args in arguments]
        keys = {task.key for task in tasks}

        def posttask(key, result, dsk, state, worker_id):
            if done is not None and key in keys:
                done(result)

        with Callback(posttask=posttask):
            dask.compute(*tasks, scheduler="threads", num_workers=self.jobs)

    def _run_distributed(self, function, shared, arguments, done) -> None:
        distributed = _distributed()
        [held] = self.client.scatter([shared], broadcast=True, hash=False)
        futures = [self.client.submit(function, held, *args, pure=False) for args in arguments]
        try:
            for future in distributed.as_completed(futures):
                try:
                    result = future.result()
                except (GswarpError, OSError, ValueError, TypeError, KeyError):
                    raise  # the task's own error: its caller reports it
                except Exception as error:  # KilledWorker, a cancelled or lost task
                    raise InputError(
                        f"a task was lost on the cluster ({first_line(error, 160)}); the "
                        "workers may have died or run out of "
                        "memory: run again with --skip-existing"
                    ) from None
                if done is not None:
                    done(result)
        except BaseException:
            self.client.cancel(futures)
            raise
        finally:
            self.client.cancel([held])

    def everywhere(self, function: Callable[[], object]) -> None:
        """Call ``function()`` in this process and on every worker of the cluster."""
        function()
        if self.client is not None:
            self.client.run(function)

    def close(self) -> None:
        """Close the client, then the LocalCluster, each within :data:`CLOSE_TIMEOUT` seconds.
        What does not close in time or fails to (a worker stuck in a task, a scheduler gone)
        is a warning on the ``gswarp`` logger, not an error: the run's outputs are complete
        or absent either way (a run once ended in a TimeoutError traceback, status 1, after
        writing everything)."""
        for part, what in ((self.client, "client"), (self.cluster, "LocalCluster")):
            if part is None:
                continue
            try:
                part.close(timeout=CLOSE_TIMEOUT)
            except Exception as error:  # any failure to close is only reported
                LOGGER.warning(
                    "the Dask %s did not close cleanly (%s); its processes end with this one",
                    what,
                    first_line(error),
                )


@contextlib.contextmanager
def _workers_spared_terminal_signals() -> Iterator[None]:
    """Start worker processes in this block with SIGINT and SIGHUP blocked: Ctrl-C in a
    terminal signals the whole process group, and workers that took it died with tracebacks
    (and were restarted by their nannies) while this process was stopping them in order. The
    block holds a Ctrl-C of this thread back until it ends (the signal stays pending, then
    arrives), so an interrupt while the cluster starts is not lost.

    The mask is inherited by the threads distributed starts here (its event loop, which
    spawns the workers and restarts them later) and kept across ``exec``; multiprocessing's
    resource tracker, which unblocks SIGINT in the thread that first starts it, is started
    before the mask is set.
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no process groups to signal
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    held = {signal.SIGINT, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _memory_limit(text: str, named: str) -> int:
    """``4GiB``, ``1.5GB``, ``800MB``: a worker's memory limit in bytes (Dask's units)."""
    from dask.utils import parse_bytes

    try:
        limit = int(parse_bytes(text))
    except (ValueError, TypeError):
        limit = 0
    if limit < 1 << 26:
        raise InputError(
            f"{named}: expected local:N,MEMORY with MEMORY such as 4GiB or 800MB (at least "
            f"64 MiB), got {text!r}"
        )
    return limit


def _local_workers(cluster: str, named: str = "") -> int:
    from gswarp.cores import available_cores

    named = named or f"--cluster {cluster}"
    cores = available_cores()
    if cluster == "local":
        return max(1, cores // 2)
    text = cluster.split(":", 1)[1]
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"{named}: expected local:N with N a positive number")
    if int(text) > cores:
        raise InputError(
            f"{named}: {text} worker processes on {cores} cores would only compete for them "
            f"(each has 2 threads and its own memory); give local:N with N <= {cores}"
        )
    return int(text)
