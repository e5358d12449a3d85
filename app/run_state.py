"""The stop protocol and the heartbeats that the capture, inference and output stages share.

Two flags: `stop_capture` (graceful: no new frames, finish what is queued) and `halt`
(immediate: every loop leaves). Each stage beats its heartbeat while it makes progress; the
systemd watchdog pings only while the oldest heartbeat is fresh. Signal handlers never touch
these (Event.set takes a lock): they call `request_stop`, a plain append that the supervisor
loop turns into `stop()` or `stop_now()` within one poll.
"""

from __future__ import annotations

import threading
import time

POLL_S = 0.1  # how often idle loops look at the flags (also their heartbeat period)
DRAIN_S = 2.0  # on a graceful stop, what is already queued may finish within this time
STAGES = ("capture", "inference", "output")


class RunState:
    def __init__(self) -> None:
        self.stop_capture = threading.Event()
        self.halt = threading.Event()
        self.done = {stage: threading.Event() for stage in STAGES}
        now = time.monotonic()
        self.heartbeats = dict.fromkeys(STAGES, now)
        self.drain_deadline: float | None = None
        self.signals: list[int] = []  # appended by signal handlers, read by the supervisor
        self.error: BaseException | None = None  # a bug in a stage: logged with its traceback
        self.failure: str | None = None  # a user-caused end (unreadable clip): one line

    def beat(self, stage: str) -> None:
        self.heartbeats[stage] = time.monotonic()

    def last_progress(self) -> float:
        """The oldest heartbeat: a stage stuck in a call stops advancing it."""
        return min(self.heartbeats.values())

    def request_stop(self, signum: int) -> None:
        """For signal handlers: no lock, no I/O; the supervisor acts on it within POLL_S."""
        self.signals.append(signum)

    def stop(self) -> None:
        """Graceful stop: no new frames; queued ones may finish within DRAIN_S. Idempotent."""
        if not self.stop_capture.is_set():
            self.drain_deadline = time.monotonic() + DRAIN_S  # before the flag the loops read
            self.stop_capture.set()

    def stop_now(self) -> None:
        """Hard stop: skip the drain (outputs still close their files)."""
        self.stop_capture.set()
        self.halt.set()

    @property
    def stopping(self) -> bool:
        return self.stop_capture.is_set() or self.halt.is_set()

    @property
    def capturing(self) -> bool:
        return not self.stopping
