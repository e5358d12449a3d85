"""A progress bar without a dependency (tqdm is not part of the runtime): redrawn in place on a
terminal, a line now and then in a log; messages printed through it do not tear the bar."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 24
TERMINAL_EVERY_S = 0.1
LOG_EVERY_S = 10.0


class Progress:
    def __init__(self, total: int, unit: str = "images", stream: TextIO | None = None) -> None:
        self.total = total  # 0: unknown (a clip that does not say its length)
        self.unit = unit
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.done = 0
        self.started = time.monotonic()
        self._shown = 0.0
        self._drawn = False

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._shown >= (TERMINAL_EVERY_S if self.terminal else LOG_EVERY_S):
            self._shown = now
            self._show()

    def say(self, line: str) -> None:
        """A line of its own (an unreadable input), the bar drawn again below it."""
        self._clear()
        print(line, file=self.stream, flush=True)
        if self.terminal and self.done:
            self._show()

    def close(self) -> None:
        if self._drawn:
            self._show()
            self.stream.write("\n")
            self.stream.flush()

    def text(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        total = max(self.total, self.done)
        if not self.total:
            return f"{self.done} {self.unit}  {rate:.1f}/s"
        filled = int(WIDTH * min(self.done / total, 1.0))
        left = (total - self.done) / rate if rate > 0 else 0
        return (f"[{'#' * filled}{'.' * (WIDTH - filled)}] {self.done}/{total} {self.unit}  "
                f"{rate:.1f}/s  {int(left) // 60}:{int(left) % 60:02d} left")

    def _show(self) -> None:
        if self.terminal:
            self.stream.write(f"\r{self.text()}\033[K")
            self._drawn = True
        else:
            self.stream.write(f"predict: {self.text()}\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.terminal and self._drawn:
            self.stream.write("\r\033[K")
