"""The web output: hands each annotated frame to the web server and feeds the latency
histograms of /metrics. `write()` only swaps a reference and observes a few numbers; the
JPEG is made on the server's encoder thread, and only while someone watches."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from app.config import WebSettings
from app.outputs.base import Output, Rendered
from app.stats import Stats
from app.web.hub import FrameHub
from app.web.limits import ConnectionLimiter
from app.web.metrics import Metrics
from app.web.recordings import Recordings
from app.web.routes import Routes
from app.web.server import WORKERS, WebServer


class WebOutput(Output):
    name = "web"

    def __init__(self, settings: WebSettings, status: Callable[[], dict], stats: Stats,
                 classes: list[str], palette: np.ndarray, record_dir: str | Path) -> None:
        self.stats = stats
        self.hub = FrameHub(settings.jpeg_quality)
        self.recordings = Recordings(record_dir)
        limiter = ConnectionLimiter()  # its budget: a share of this process's descriptor limit
        self.metrics = Metrics(status, Path(record_dir), self.hub, lambda: routes.clients,
                               limiter)
        routes = Routes(self.hub, self.recordings, self.metrics, status, classes, palette,
                        settings.max_clients,
                        ThreadPoolExecutor(WORKERS, thread_name_prefix="web-work"), limiter)
        self.server = WebServer(settings, routes, limiter)  # binds now: a taken port fails now
        self.server.start()
        self.hub.start(self.server.frame_ready)
        self._closed = False

    @property
    def url(self) -> str:
        return self.server.url

    def write(self, rendered: Rendered) -> None:
        self.hub.publish(rendered)
        frame = rendered.frame
        for stage, seconds in frame.timings.items():
            self.metrics.observe(stage, seconds)
        render = self.stats.latency.get("render")
        if render:  # the output stage recorded this frame's render time just before write()
            self.metrics.observe("render", render[-1])
        self.metrics.observe("capture_to_output", time.monotonic() - frame.captured_at)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.hub.close()
        self.server.stop()
        self.recordings.close()
