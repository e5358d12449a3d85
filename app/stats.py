"""Counters and latency windows the three threads update and the supervisor reports."""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

WINDOW = 300  # latency samples kept per stage: enough for stable p95, bounded memory


class Rate:
    """Events per second over the time since the last `take()`.

    One thread ticks, another takes: `take` works from a snapshot of `total` rather than
    resetting a shared counter, so a tick that races a take is counted in the next period
    instead of being lost or counted twice.
    """

    def __init__(self) -> None:
        self.total = 0
        self._taken = 0  # `total` at the last take()
        self._since = time.monotonic()

    def tick(self) -> None:
        self.total += 1  # one writer per Rate (its stage's thread)

    def take(self) -> float:
        now, total = time.monotonic(), self.total
        rate = (total - self._taken) / max(now - self._since, 1e-9)
        self._taken, self._since = total, now
        return rate


class Stats:
    """Shared by the threads; writes are single counters or deque appends (GIL-atomic)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.captured = Rate()
        self.inferred = Rate()
        self.output = Rate()
        self.latency: dict[str, deque[float]] = {}
        self.reconnects = 0
        self.camera_online = False
        self.source_ended = False  # a clip or folder played to its end (not a camera fault)
        self.last_output = 0.0  # monotonic time the last frame left the output stage
        self.first_output = 0.0  # ... and the first one (steady-state rates exclude start-up)
        self.drops: dict[str, int] = {}
        self._lock = threading.Lock()

    def record(self, stage: str, seconds: float) -> None:
        window = self.latency.get(stage)
        if window is None:
            with self._lock:
                window = self.latency.setdefault(stage, deque(maxlen=WINDOW))
        window.append(seconds)

    def snapshot(self, drops: dict[str, int]) -> dict:
        """Rates since the previous snapshot, latency percentiles in ms, cumulative counters."""
        latency = {}
        for stage, window in list(self.latency.items()):
            # list() copies the deque in one C call; the stage's thread may append meanwhile.
            values = np.array(list(window), dtype=np.float64)
            if values.size:
                latency[stage] = {
                    "p50_ms": round(float(np.percentile(values, 50)) * 1000, 2),
                    "p95_ms": round(float(np.percentile(values, 95)) * 1000, 2),
                }
        return {
            "uptime_s": round(time.monotonic() - self.started, 1),
            "capture_fps": round(self.captured.take(), 2),
            "inference_fps": round(self.inferred.take(), 2),
            "output_fps": round(self.output.take(), 2),
            "frames": {"captured": self.captured.total, "inferred": self.inferred.total,
                       "output": self.output.total},
            "latency": latency,
            "drops": drops,
            "reconnects": self.reconnects,
            "camera": "online" if self.camera_online else (
                "ended" if self.source_ended else "offline"),
        }
