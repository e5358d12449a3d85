"""Events a client can cause at will (a malformed request, a wrong password) must not flood
the log: the first of each window gets its one line, the rest are only counted and told as
one line when the window closes ("299 more bad requests in the last 60 s")."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

WINDOW_S = 60.0


class RepeatedEvents:
    """Not thread-safe: each user calls it from one thread (the web loop, the RTSP loop)."""

    def __init__(self, log: logging.Logger, what: str, window_s: float = WINDOW_S,
                 level: int = logging.WARNING,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.what, self.window_s, self.level = log, what, window_s, level
        self.clock = clock
        self.opened: float | None = None  # when the current window began
        self.more = 0  # events in the window after its first
        self.total = 0

    def event(self, message: str, *args: object) -> bool:
        """Count one; log `message % args` if it opens a window. True when it was logged."""
        self.total += 1
        self.tick()
        if self.opened is not None:
            self.more += 1
            return False
        self.opened = self.clock()
        self.log.log(self.level, message, *args)
        return True

    def tick(self) -> None:
        """Close the window if its time is up (call it now and then: a timer, each event)."""
        if self.opened is not None and self.clock() - self.opened >= self.window_s:
            self.flush()

    def flush(self) -> None:
        """Close the window now, telling what it counted (at the end of a run too)."""
        if self.opened is None:
            return
        if self.more:
            self.log.log(self.level, "%d more %s in the last %.0f s", self.more, self.what,
                         self.clock() - self.opened)
        self.opened, self.more = None, 0
