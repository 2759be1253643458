"""A one-line progress bar on stderr (only drawn when asked or on a terminal)."""

from __future__ import annotations

import sys
import time


class Progress:
    """``[#####.....] 12/40 files, 1 failed, 8.1 files/s``, redrawn at most 10 times a second;
    ``unit`` names what is counted, and ``eta`` adds the seconds left (``, ETA 11 s``)."""

    def __init__(
        self, total: int | None, width: int = 30, unit: str = "files", eta: bool = False
    ) -> None:
        self.total, self.width, self.unit, self.eta = total, width, unit, eta
        self.start = self.last = time.monotonic()
        self.shown = False
        self.done = self.failed = 0

    def update(self, written: int, failed: int) -> None:
        self.done, self.failed = written + failed, failed
        now = time.monotonic()
        if now - self.last >= 0.1 or (self.total is not None and self.done == self.total):
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        if self.total:
            filled = int(self.width * self.done / self.total)
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}"
        else:
            bar = f"{self.done}"
        failed = f", {self.failed} failed" if self.failed else ""
        left = ""
        if self.eta and self.total and rate > 0:
            left = f", ETA {(self.total - self.done) / rate:.0f} s"
        sys.stderr.write(f"\r{bar} {self.unit}{failed}, {rate:.1f} {self.unit}/s{left}")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the bar so that a message can take the line."""
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False

    def finish(self) -> None:
        self._draw(time.monotonic())
        sys.stderr.write("\n")
        sys.stderr.flush()
