"""/metrics: Prometheus text from a private registry (never the process-wide default one).

Counters and gauges are read from the pipeline's status when Prometheus scrapes; the per-stage
latency histograms are observed per frame by the web output (they cannot be rebuilt from the
stats window, which keeps only the last samples).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from app.recording.retention import list_segments
from app.web.hub import FrameHub
from app.web.limits import ConnectionLimiter
from app.web.recordings import PREFIX

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Every state the recording can be in (app/outputs/recording.py), each a 0/1 series.
RECORDING_STATES = ("off", "waiting", "recording", "low_disk", "error", "closed")
# Telemetry keys exported as gauges, with their metric name and help.
TELEMETRY = {"cpu_percent": ("segcam_cpu_percent", "CPU load, percent"),
             "gpu_percent": ("segcam_gpu_percent", "GPU load, percent"),
             "ram_percent": ("segcam_ram_percent", "memory in use, percent"),
             "power_w": ("segcam_power_watts", "board power, watts")}


class StatusCollector(Collector):
    def __init__(self, status: Callable[[], dict], record_dir: Path, hub: FrameHub,
                 clients: Callable[[], int], limiter: ConnectionLimiter | None) -> None:
        self.status = status
        self.record_dir = record_dir
        self.hub = hub
        self.clients = clients
        self.limiter = limiter

    def collect(self):
        status = self.status()
        # The usual build-info pattern: a constant 1 whose label says what runs.
        build = GaugeMetricFamily("segcam_build_info", "the segcam version serving these metrics",
                                  labels=["version"])
        build.add_metric([status["version"]], 1)
        yield build
        frames = CounterMetricFamily("segcam_frames", "frames through each stage", labels=["stage"])
        for stage, total in status["frames"].items():
            frames.add_metric([stage], total)
        drops = CounterMetricFamily("segcam_dropped_frames", "frames dropped, by where",
                                    labels=["stage"])
        for stage, total in status["drops"].items():
            drops.add_metric([stage], total)
        yield frames
        yield drops
        yield CounterMetricFamily("segcam_reconnects", "source reopened after a failure",
                                  value=status["reconnects"])
        yield GaugeMetricFamily("segcam_camera_online", "1 while frames arrive from the source",
                                value=1 if status["camera"] == "online" else 0)
        yield GaugeMetricFamily("segcam_uptime_seconds", "since the pipeline started",
                                value=status["uptime_s"])
        yield from self._recording(status["recording"])
        yield from self._telemetry(status["telemetry"])
        yield CounterMetricFamily("segcam_web_jpeg_encodes", "live frames encoded as JPEG",
                                  value=self.hub.encodes)
        yield GaugeMetricFamily("segcam_web_stream_clients", "live streams being served",
                                value=self.clients())
        if self.limiter is not None:
            yield GaugeMetricFamily("segcam_web_connections", "open connections to the web port",
                                    value=self.limiter.connections)
            yield CounterMetricFamily("segcam_web_refused_connections",
                                      "connections closed at once: over the limits",
                                      value=self.limiter.refusals.total)

    def _recording(self, recording: dict):
        segments = list_segments(self.record_dir, PREFIX)
        size = 0
        for path in segments:
            try:
                size += path.stat().st_size
            except OSError:
                continue  # deleted by retention meanwhile
        yield GaugeMetricFamily("segcam_recording_active", "1 while a segment is being written",
                                value=1 if recording["active"] else 0)
        # 0: recording is on in the config but stopped (low disk, error): the one to alert on.
        state = recording["state"]
        yield GaugeMetricFamily("segcam_recording_ok", "0 when recording is on but not working "
                                "(low disk, error); see segcam_recording_state",
                                value=0 if state in ("low_disk", "error") else 1)
        states = GaugeMetricFamily("segcam_recording_state", "1 for the recording's state",
                                   labels=["state"])
        for name in RECORDING_STATES:
            states.add_metric([name], 1 if name == state else 0)
        yield states
        yield GaugeMetricFamily("segcam_recording_segments", "segments in record.dir",
                                value=len(segments))
        yield GaugeMetricFamily("segcam_recording_bytes", "bytes of segments in record.dir",
                                value=size)
        try:
            free = shutil.disk_usage(self.record_dir).free
        except OSError:
            return  # record.dir does not exist (yet): no figure rather than a wrong one
        yield GaugeMetricFamily("segcam_disk_free_bytes", "free space where segments go",
                                value=free)

    def _telemetry(self, reading: dict):
        for key, (name, doc) in TELEMETRY.items():
            if isinstance(reading.get(key), int | float):
                yield GaugeMetricFamily(name, doc, value=reading[key])
        temps = GaugeMetricFamily("segcam_temperature_celsius", "board temperatures",
                                  labels=["sensor"])
        found = False
        for key, value in reading.items():
            if key.endswith("temp_c") and isinstance(value, int | float):
                temps.add_metric([key.removesuffix("_temp_c").removesuffix("temp_c") or "max"],
                                 value)
                found = True
        if found:
            yield temps


class Metrics:
    """The registry, its collector, and the latency histograms the web output feeds."""

    def __init__(self, status: Callable[[], dict], record_dir: Path, hub: FrameHub,
                 clients: Callable[[], int], limiter: ConnectionLimiter | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StatusCollector(status, record_dir, hub, clients, limiter))
        self.latency = Histogram("segcam_stage_latency_seconds", "time per frame in each stage",
                                 ["stage"], buckets=BUCKETS, registry=self.registry)

    def observe(self, stage: str, seconds: float) -> None:
        self.latency.labels(stage).observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)
