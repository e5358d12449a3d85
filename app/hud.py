"""The text line drawn over the video: current FPS, latency, drops, camera state, telemetry."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from app.stats import Stats

HUD_PERIOD_S = 0.5  # the numbers refresh twice a second: readable, and cheap per frame


class HudText:
    """Recomputed every HUD_PERIOD_S (or at once when the camera state changes), not per frame:
    the numbers stay readable, and the FPS is the current rate, not an average since start."""

    def __init__(self, stats: Stats, drops: Callable[[], dict[str, int]], telemetry=None) -> None:
        self.stats = stats
        self.drops = drops
        self.telemetry = telemetry
        self._text = ""
        self._next = 0.0
        self._offline = False
        self._since = stats.started
        self._total = 0

    def text(self, offline: bool) -> str:
        now = time.monotonic()
        if now < self._next and offline == self._offline:
            return self._text
        total = self.stats.output.total
        fps = (total - self._total) / max(now - self._since, 1e-9)
        self._since, self._total = now, total
        window = self.stats.latency.get("capture_to_output")
        latency = f"{1000 * float(np.median(list(window))):.0f} ms" if window else "- ms"
        parts = [f"{fps:.1f} FPS", latency, f"drops {sum(self.drops().values())}"]
        if offline:
            parts.append("CAMERA OFFLINE")
        if self.telemetry is not None:
            parts.append(self.telemetry.hud_text())
        self._text = "  ".join(p for p in parts if p)
        self._next, self._offline = now + HUD_PERIOD_S, offline
        return self._text
