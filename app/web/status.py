"""The live status the page and /api/stats show, read without disturbing the periodic report.

`Stats.snapshot()` computes its rates since its previous call, so calling it from the web would
skew the log line; here the rates come from the frame totals sampled once a second instead.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from app.stats import Stats

RATE_WINDOW_S = 2.0  # rates over about the last two seconds: current, yet not jumpy


def latency_ms(stats: Stats) -> dict[str, dict[str, float]]:
    """p50/p95 per stage over the stats window, in ms (as the periodic report gives them)."""
    latency = {}
    for stage, window in list(stats.latency.items()):
        values = np.array(list(window), dtype=np.float64)  # list() copies in one C call
        if values.size:
            latency[stage] = {"p50_ms": round(float(np.percentile(values, 50)) * 1000, 2),
                              "p95_ms": round(float(np.percentile(values, 95)) * 1000, 2)}
    return latency


def camera_state(stats: Stats) -> str:
    if stats.camera_online:
        return "online"
    return "ended" if stats.source_ended else "offline"


class FrameRates:
    """Frames per second per stage from totals sampled by `sample()` (once a second)."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, dict[str, int]]] = deque(maxlen=16)

    def sample(self, totals: dict[str, int]) -> None:
        self._samples.append((time.monotonic(), dict(totals)))

    def rates(self) -> dict[str, float]:
        if len(self._samples) < 2:
            return {}
        now, newest = self._samples[-1]
        then, oldest = next(((t, s) for t, s in self._samples if now - t <= self.window_s + 0.5),
                            self._samples[-2])
        if now - then <= 0:
            then, oldest = self._samples[-2]
        span = max(now - then, 1e-9)
        return {f"{stage}_fps": round((newest[stage] - oldest.get(stage, 0)) / span, 2)
                for stage in newest}
