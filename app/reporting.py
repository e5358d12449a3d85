"""The periodic stats report: one log line, the systemd STATUS text and the --stats-json file."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from app.stats import Stats
from models.atomic import write_atomically

log = logging.getLogger("app.pipeline")


def write_json_atomic(path: Path, data: dict) -> None:
    """Write `data` to `path` whole: a reader never sees half a file."""
    write_atomically(path, json.dumps(data, indent=2))


class StatsReporter:
    def __init__(self, stats: Stats, drops: Callable[[], dict[str, int]], notifier=None,
                 stats_json: Path | None = None,
                 skipped: Callable[[], int] = lambda: 0) -> None:
        self.stats = stats
        self.skipped = skipped
        self.drops = drops
        self.notifier = notifier
        self.stats_json = stats_json
        self._json_failing = False

    def report(self) -> dict:
        snapshot = self.stats.snapshot(self.drops())
        snapshot["skipped"] = self.skipped()  # unreadable images a folder source left out
        latency = snapshot["latency"]
        log.info(
            "fps capture %.1f inference %.1f output %.1f | infer p50 %s ms | end-to-end p50 %s "
            "p95 %s ms | drops %s | reconnects %d | camera %s",
            snapshot["capture_fps"], snapshot["inference_fps"], snapshot["output_fps"],
            latency.get("infer", {}).get("p50_ms", "-"),
            latency.get("capture_to_output", {}).get("p50_ms", "-"),
            latency.get("capture_to_output", {}).get("p95_ms", "-"),
            snapshot["drops"], snapshot["reconnects"], snapshot["camera"])
        if self.notifier is not None:
            self.notifier.status(f"{snapshot['output_fps']:.1f} FPS, camera {snapshot['camera']}")
        if self.stats_json is not None:
            self._write(snapshot)
        return snapshot

    def _write(self, snapshot: dict) -> None:
        path = self.stats_json
        try:
            write_json_atomic(path, snapshot)
        except OSError as error:
            # The CLI checked the path at start; a disk that fills later must not stop the app.
            if not self._json_failing:
                log.error("--stats-json: cannot write %s (%s); will keep trying", path,
                          error.strerror or error)
            self._json_failing = True
        else:
            self._json_failing = False
