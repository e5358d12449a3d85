"""The three threads of the frame path, joined by one stop event.

capture --LatestSlot--> inference --DropOldestQueue--> output (render, display, record)

Live sources (cameras, streams) drop frames rather than queue them: the newest frame wins and
every drop is counted. Finite sources (files, image folders) are not live; for them the hand-offs
wait instead, so every frame of a clip is segmented and recorded.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.config import AppConfig
from app.frame import Frame
from app.queues import DropOldestQueue, LatestSlot
from app.segmenter import Segmenter
from app.sources import SourceError, SourceOptions, open_source
from app.stats import Stats

log = logging.getLogger(__name__)
POLL_S = 0.1  # how often idle threads look at the stop flags (also their heartbeat period)
DRAIN_S = 2.0  # on SIGINT/SIGTERM, what is already queued may finish within this time


@dataclass
class RunOptions:
    headless: bool = False
    max_frames: int | None = None
    stats_json: Path | None = None


class Pipeline:
    def __init__(self, config: AppConfig, engine, options: RunOptions, notifier=None,
                 telemetry=None) -> None:
        self.config = config
        self.engine = engine
        self.options = options
        self.notifier = notifier
        self.telemetry = telemetry
        self.segmenter = Segmenter(engine)
        self.stats = Stats()
        self.slot: LatestSlot[Frame] = LatestSlot()
        self.queue: DropOldestQueue[Frame] = DropOldestQueue(config.pipeline.output_queue)
        self.stop_capture = threading.Event()  # graceful: no new frames, finish what is queued
        self.halt = threading.Event()  # immediate: every thread leaves its loop
        self.capture_done = threading.Event()
        self.inference_done = threading.Event()
        self.output_done = threading.Event()
        self.heartbeats = {"capture": time.monotonic(), "inference": time.monotonic(),
                           "output": time.monotonic()}
        self.live = True
        self.recorder = None
        self.error: BaseException | None = None
        self.quit_by_user = False
        self._recorder_drops = 0

    # -- supervisor side -------------------------------------------------------------------

    def run(self) -> int:
        """Run until the source ends, max_frames is reached, or stop() is called; 0 or 1."""
        threads = [
            threading.Thread(target=self._guard, args=(self._capture_loop, self.capture_done),
                             name="capture", daemon=True),
            threading.Thread(target=self._guard, args=(self._inference_loop, self.inference_done),
                             name="inference", daemon=True),
            threading.Thread(target=self._guard, args=(self._output_loop, self.output_done),
                             name="output", daemon=True),
        ]
        if self.notifier is not None:
            self.notifier.start_watchdog(self.last_progress, self.halt)
        for thread in threads:
            thread.start()
        interval = self.config.pipeline.stats_interval_s
        next_report = time.monotonic() + interval
        while not self.output_done.wait(min(POLL_S * 5, max(0.0, next_report - time.monotonic()))):
            if time.monotonic() >= next_report:
                self.report()
                next_report += interval
            if self.stop_capture.is_set() and self._drain_deadline is not None \
                    and time.monotonic() > self._drain_deadline:
                log.warning("queued frames did not finish within %.0f s; stopping now", DRAIN_S)
                self.halt.set()
        self.halt.set()
        for thread in threads:
            thread.join(timeout=5)
            if thread.is_alive():
                log.error("%s thread did not stop", thread.name)
        final = self.report()
        log.info("processed %d frames (%.1f FPS average)", final["frames"]["output"],
                 final["frames"]["output"] / max(final["uptime_s"], 1e-9))
        return 1 if self.error is not None else 0

    _drain_deadline: float | None = None

    def stop(self) -> None:
        """Graceful stop (signals): stop capturing, let queued frames finish within DRAIN_S."""
        if not self.stop_capture.is_set():
            self._drain_deadline = time.monotonic() + DRAIN_S
            self.stop_capture.set()

    def last_progress(self) -> float:
        """The oldest thread heartbeat: a thread stuck in a call stops advancing it."""
        return min(self.heartbeats.values())

    def drops(self) -> dict[str, int]:
        recorder = self.recorder
        return {"capture": self.slot.dropped, "inference": self.queue.dropped,
                "record": self._recorder_drops + (recorder.dropped if recorder else 0)}

    def report(self) -> dict:
        snapshot = self.stats.snapshot(self.drops())
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
        if self.options.stats_json:
            path = Path(self.options.stats_json)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(snapshot, indent=2))
            os.replace(tmp, path)
        return snapshot

    def _guard(self, loop, done: threading.Event) -> None:
        """A bug in one thread stops the whole app (exit 1, so systemd restarts it)."""
        try:
            loop()
        except Exception as error:  # noqa: BLE001 - logged with traceback, then a clean stop
            log.exception("%s thread failed: %s", threading.current_thread().name, error)
            self.error = error
            self.halt.set()
        finally:
            done.set()

    # -- capture ---------------------------------------------------------------------------

    def _source_options(self) -> SourceOptions:
        s = self.config.source
        return SourceOptions(width=s.width, height=s.height, fps=s.fps, flip=s.flip, loop=s.loop,
                             timeout=s.timeout_s, latency=s.latency_ms, realtime=s.realtime)

    def _wait(self, seconds: float) -> bool:
        """Sleep in heartbeat-sized steps; True when the app is stopping."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.heartbeats["capture"] = time.monotonic()
            if self.stop_capture.wait(min(POLL_S, max(0.0, end - time.monotonic()))):
                return True
        return self.stop_capture.is_set()

    def _capture_loop(self) -> None:
        settings = self.config.source
        backoff = settings.reconnect_initial_s
        index = 0
        failed_before = False
        while not self.stop_capture.is_set() and not self.halt.is_set():
            self.heartbeats["capture"] = time.monotonic()
            try:
                source = open_source(settings.uri, self._source_options())
            except SourceError as error:
                self.stats.camera_online = False
                log.warning("camera offline: %s; retrying in %.0f s", error, backoff)
                failed_before = True
                if self._wait(backoff):
                    break
                backoff = min(backoff * 2, settings.reconnect_max_s)
                continue
            if failed_before:
                self.stats.reconnects += 1
                log.info("source reopened: %s (reconnect %d)", source.name, self.stats.reconnects)
            self.live = source.is_live
            self.source_fps = getattr(source, "fps", None)
            self.stats.camera_online = True
            ended = False
            try:
                while not self.stop_capture.is_set() and not self.halt.is_set():
                    self.heartbeats["capture"] = time.monotonic()
                    image = source.read()
                    if image is None:
                        ended = True
                        break
                    frame = Frame(image=image, index=index, captured_at=time.monotonic())
                    index += 1
                    backoff = settings.reconnect_initial_s  # frames flow again
                    if self.live:
                        self.slot.put(frame)
                    else:
                        self._put_waiting(self.slot, frame, "capture")
                    self.stats.captured.tick()
                    if self.options.max_frames and index >= self.options.max_frames:
                        log.info("reached --max-frames %d", index)
                        return
            except SourceError as error:
                log.warning("camera offline: %s; reopening in %.0f s", error, backoff)
            finally:
                source.close()
                self.stats.camera_online = False
            if ended and not source.is_live:
                log.info("end of %s", source.name)
                return
            failed_before = True  # a live stream that ended or failed: reopen it
            if self._wait(backoff):
                break
            backoff = min(backoff * 2, settings.reconnect_max_s)

    def _put_waiting(self, target, frame: Frame, stage: str) -> None:
        """Finite sources: wait for room instead of dropping (every frame gets processed)."""
        while not self.halt.is_set():
            self.heartbeats[stage] = time.monotonic()
            if isinstance(target, LatestSlot):
                if target.empty_or_wait(POLL_S):
                    target.put(frame)
                    return
            elif target.wait_for_room(POLL_S):
                target.put(frame)
                return

    # -- inference -------------------------------------------------------------------------

    def _inference_loop(self) -> None:
        while not self.halt.is_set():
            self.heartbeats["inference"] = time.monotonic()
            frame = self.slot.get(POLL_S)
            if frame is None:
                if self.capture_done.is_set() and self.slot.empty():
                    return
                continue
            started = time.perf_counter()
            frame.labels = self.segmenter.segment(frame.image, frame.timings)
            self.stats.record("infer", frame.timings["infer"])
            self.stats.record("inference_stage", time.perf_counter() - started)
            self.stats.inferred.tick()
            if self.live:
                self.queue.put(frame)
            else:
                self._put_waiting(self.queue, frame, "inference")

    # -- output ----------------------------------------------------------------------------

    def _output_loop(self) -> None:
        from app.display import Display, display_available
        from app.render import Renderer

        overlay = self.config.overlay
        renderer = Renderer(self.engine.palette, self.engine.classes, alpha=overlay.alpha,
                            hidden=[h for h in overlay.hidden
                                    if not isinstance(h, str) or h in self.engine.classes],
                            mode=overlay.mode, legend=overlay.legend, hud=overlay.hud)
        display = None
        wanted = self.config.display.enabled
        if not self.options.headless and wanted and (wanted is True or display_available()):
            display = Display(self.config.display.title, self.config.display.fullscreen)
        ready_sent = False
        try:
            while not self.halt.is_set():
                self.heartbeats["output"] = time.monotonic()
                frame = self.queue.get(POLL_S)
                if frame is None:
                    if self.inference_done.is_set() and len(self.queue) == 0:
                        return
                    continue
                started = time.perf_counter()
                hud = self._hud_text() if overlay.hud else None
                annotated = renderer.annotate(frame.image, frame.labels, hud)
                rendered = time.perf_counter()
                self.stats.record("render", rendered - started)
                if display is not None and not display.show(annotated):
                    log.info("window closed by the user")
                    self.quit_by_user = True
                    self.stop()
                self._record(annotated)
                self.stats.record("sinks", time.perf_counter() - rendered)
                self.stats.record("capture_to_output", time.monotonic() - frame.captured_at)
                self.stats.output.tick()
                self.stats.last_output = time.monotonic()
                if not ready_sent:
                    ready_sent = True
                    log.info("first frame through (%dx%d)", frame.image.shape[1],
                             frame.image.shape[0])
                    if self.notifier is not None:
                        self.notifier.ready()
        finally:
            if display is not None:
                display.close()
            self.close_recorder()

    def _hud_text(self) -> str:
        window = self.stats.latency.get("capture_to_output")
        latency = f"{1000 * np.median(window):.0f} ms" if window else "- ms"
        fps = self.stats.output.total / max(time.monotonic() - self.stats.started, 1e-9)
        parts = [f"{fps:.1f} FPS", latency, f"drops {sum(self.drops().values())}"]
        if not self.stats.camera_online and self.live:
            parts.append("CAMERA OFFLINE")
        if self.telemetry is not None:
            parts.append(self.telemetry.hud_text())
        return "  ".join(p for p in parts if p)

    def _record(self, annotated: np.ndarray) -> None:
        settings = self.config.record
        if not settings.enabled:
            return
        size = (annotated.shape[1], annotated.shape[0])
        if self.recorder is not None and (self.recorder.width, self.recorder.height) != size:
            log.info("frame size changed to %dx%d: starting a new segment", *size)
            self.close_recorder()
        if self.recorder is None:
            from app.recording import SegmentRecorder

            fps = settings.fps or getattr(self, "source_fps", None) or self.config.source.fps or 15
            self.recorder = SegmentRecorder(
                settings.dir, fps=fps, size=size, segment_seconds=settings.segment_seconds,
                max_age_s=None if settings.max_age_hours is None else settings.max_age_hours * 3600,
                min_free_gb=settings.min_free_gb, encoder=settings.encoder,
                timestamps="clock" if self.live else "frames")
        self.recorder.write(annotated)

    def close_recorder(self) -> None:
        if self.recorder is not None:
            recorder, self.recorder = self.recorder, None
            self._recorder_drops += recorder.dropped
            recorder.close()
            self.recorded_files = list(recorder.files)
            log.info("recording closed: %d segment(s) in %s", len(recorder.files),
                     self.config.record.dir)
