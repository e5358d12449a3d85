"""The three threads of the frame path, joined by one stop event.

capture --LatestSlot--> inference --DropOldestQueue--> output (render, display, record)

Live sources (cameras, streams) drop frames rather than queue them: the newest frame wins and
every drop is counted. Finite sources (files, image folders) are not live; for them the hand-offs
wait instead, so every frame of a clip is segmented and recorded.

Stopping: `stop()` (a signal, the window closed) stops capture and lets what is queued finish
within DRAIN_S; then, or on `stop_now()` or a thread's failure, `halt` makes every loop leave.
The output thread always closes the window and the recording on its way out.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.config import AppConfig
from app.frame import Frame
from app.hud import HudText
from app.queues import DropOldestQueue, LatestSlot
from app.recording.sink import RecordingSink
from app.render import Renderer, draw_hud
from app.segmenter import Segmenter
from app.sources import SourceError, SourceOptions, open_source
from app.stats import Stats

log = logging.getLogger(__name__)
POLL_S = 0.1  # how often idle threads look at the stop flags (also their heartbeat period)
DRAIN_S = 2.0  # on SIGINT/SIGTERM, what is already queued may finish within this time
# After a halt, the output thread may take this long to close the window and the segment, then
# the other threads get JOIN_S. DRAIN_S + CLOSE_S + JOIN_S stays under the unit's
# TimeoutStopSec=10, so systemd never has to SIGKILL a recording half-closed.
CLOSE_S = 5.0
JOIN_S = 1.0
OFFLINE_SIZE = (480, 640)  # (h, w) of the "camera offline" picture before any frame came


@dataclass
class RunOptions:
    headless: bool = False
    max_frames: int | None = None
    stats_json: Path | None = None


def write_json_atomic(path: Path, data: dict) -> None:
    """Write `data` to `path` through a temporary file: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def known_hidden(hidden: list[str | int], classes: tuple[str, ...] | list[str]) -> list[str | int]:
    """The `overlay.hidden` entries this bundle has (a name it lacks hides nothing)."""
    return [h for h in hidden if not isinstance(h, str) or h in classes]


class Pipeline:
    def __init__(self, config: AppConfig, engine, options: RunOptions, notifier=None,
                 telemetry=None) -> None:
        self.config = config
        self.engine = engine
        self.options = options
        self.notifier = notifier
        self.telemetry = telemetry
        self.segmenter = Segmenter(engine)
        overlay = config.overlay
        # Built here, in the caller's thread, so a bad overlay setting fails before any thread.
        self.renderer = Renderer(engine.palette, engine.classes, alpha=overlay.alpha,
                                 hidden=known_hidden(overlay.hidden, engine.classes),
                                 mode=overlay.mode, legend=overlay.legend, hud=overlay.hud)
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
        self.source_fps: float | None = None
        self.offline = False  # the source failed or ended and has not delivered a frame since
        self.recording = RecordingSink(config.record, self.halt, self._output_heartbeat, POLL_S)
        self.hud = HudText(self.stats, self.drops, telemetry)
        self.error: BaseException | None = None  # a bug in a thread: logged with its traceback
        self.failure: str | None = None  # a user-caused end (unreadable clip): one line, exit 1
        self.quit_by_user = False
        self.threads_stopped = True  # False when a thread outlived the join (see run())
        self._drain_deadline: float | None = None
        self.stop_signals: list[int] = []  # appended by signal handlers (no locks, no I/O)
        self._signals_seen = 0
        self.skipped = 0  # frames the source could not read and left out (bad images)
        self._stats_json_failing = False

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
        try:
            self._supervise()
        finally:
            self.halt.set()  # also when the supervisor itself fails: no thread is left running
            deadline = time.monotonic() + JOIN_S
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    self.threads_stopped = False
                    log.error("%s thread did not stop", thread.name)
        final = self.report()
        log.info("processed %d frames (%.1f FPS average)", final["frames"]["output"],
                 final["frames"]["output"] / max(final["uptime_s"], 1e-9))
        return 1 if self.error is not None or self.failure is not None else 0

    def _supervise(self) -> None:
        """Report stats every interval until the output thread is done; enforce the deadlines."""
        interval = self.config.pipeline.stats_interval_s
        next_report = time.monotonic() + interval
        halted_at: float | None = None
        while not self.output_done.wait(min(POLL_S, max(0.0, next_report - time.monotonic()))):
            self._act_on_signals()
            now = time.monotonic()
            if now >= next_report:
                self.report()
                next_report += interval
                if next_report <= now:  # the machine stalled: skip the missed reports
                    next_report = now + interval
            deadline = self._drain_deadline
            if deadline is not None and now > deadline and not self.halt.is_set():
                log.warning("queued frames did not finish within %.0f s; stopping now", DRAIN_S)
                self.halt.set()
            if self.halt.is_set():
                halted_at = now if halted_at is None else halted_at
                if now - halted_at > CLOSE_S:
                    log.error("output thread still busy %.0f s after the stop; leaving without it",
                              CLOSE_S)
                    return

    def request_stop(self, signum: int) -> None:
        """For signal handlers: only records the signal; the supervisor acts on it within
        POLL_S. (Logging and Event.set() take locks the interrupted thread may hold.)"""
        self.stop_signals.append(signum)

    def _act_on_signals(self) -> None:
        """The first signal stops gracefully, the next one at once."""
        while self._signals_seen < len(self.stop_signals):
            name = signal.Signals(self.stop_signals[self._signals_seen]).name
            self._signals_seen += 1
            if self.stopping:
                log.warning("%s again: stopping now without draining (the segment is still "
                            "closed)", name)
                self.stop_now()
                continue
            log.info("%s: finishing queued frames and closing the recording", name)
            if self.notifier is not None:
                self.notifier.stopping()
            self.stop()

    def stop(self) -> None:
        """Graceful stop (signals, window closed): stop capturing, let queued frames finish
        within DRAIN_S. Idempotent."""
        if not self.stop_capture.is_set():
            self._drain_deadline = time.monotonic() + DRAIN_S  # before the flag the loop reads
            self.stop_capture.set()

    def stop_now(self) -> None:
        """Hard stop (a second signal): skip the drain; the segment is still closed."""
        self.stop_capture.set()
        self.halt.set()

    @property
    def stopping(self) -> bool:
        return self.stop_capture.is_set() or self.halt.is_set()

    def last_progress(self) -> float:
        """The oldest thread heartbeat: a thread stuck in a call stops advancing it."""
        return min(self.heartbeats.values())

    def drops(self) -> dict[str, int]:
        return {"capture": self.slot.dropped, "inference": self.queue.dropped,
                "record": self.recording.dropped}

    @property
    def recorded_files(self) -> list[Path]:
        return self.recording.files

    def report(self) -> dict:
        snapshot = self.stats.snapshot(self.drops())
        snapshot["skipped"] = self.skipped
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
            try:
                write_json_atomic(path, snapshot)
            except OSError as error:
                # The CLI checked the path at start; a disk that fills later must not stop the app.
                if not self._stats_json_failing:
                    log.error("--stats-json: cannot write %s (%s); will keep trying", path,
                              error.strerror or error)
                self._stats_json_failing = True
            else:
                self._stats_json_failing = False
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

    def _capturing(self) -> bool:
        return not self.stop_capture.is_set() and not self.halt.is_set()

    def _wait(self, seconds: float) -> bool:
        """Sleep in heartbeat-sized steps; True when the app is stopping."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.heartbeats["capture"] = time.monotonic()
            if self.stop_capture.wait(min(POLL_S, max(0.0, end - time.monotonic()))):
                return True
            if self.halt.is_set():
                return True
        return not self._capturing()

    def _capture_loop(self) -> None:
        settings = self.config.source
        backoff = settings.reconnect_initial_s
        index = attempts = 0
        while self._capturing():
            self.heartbeats["capture"] = time.monotonic()
            attempts += 1
            try:
                source = open_source(settings.uri, self._source_options())
            except SourceError as error:
                if error.permanent and attempts == 1:  # the user's to fix, not a camera to wait for
                    self.failure = str(error)
                    log.error("%s", error)
                    return
                self.offline = True
                log.warning("camera offline: %s; retrying in %.1f s", error, backoff)
                if self._wait(backoff):
                    break
                backoff = min(backoff * 2, settings.reconnect_max_s)
                continue
            self.live = source.is_live
            self.source_fps = getattr(source, "fps", None)
            ended = False
            try:
                while self._capturing():
                    self.heartbeats["capture"] = time.monotonic()
                    image = source.read()
                    self.skipped = source.skipped
                    if image is None:
                        ended = True
                        break
                    if not self.stats.camera_online:
                        self._came_online(source.name)
                        backoff = settings.reconnect_initial_s  # frames flow again
                    frame = Frame(image=image, index=index, captured_at=time.monotonic())
                    index += 1
                    if self.live:
                        self.slot.put(frame)
                    else:
                        self._put_waiting(self.slot, frame, "capture")
                    self.stats.captured.tick()
                    if self.options.max_frames and index >= self.options.max_frames:
                        log.info("reached --max-frames %d", index)
                        return
            except SourceError as error:
                if not source.is_live:
                    # A clip or image that cannot be read is the user's to fix, not a camera
                    # to wait for: reopening would replay it from the start, forever.
                    self.failure = str(error)
                    log.error("%s", error)
                    return
                log.warning("camera offline: %s; reopening in %.1f s", error, backoff)
            finally:
                source.close()
                self.stats.camera_online = False
            if ended and not source.is_live:
                log.info("end of %s", source.name)
                self.stats.source_ended = True
                return
            if ended:
                log.warning("camera offline: %s stopped delivering; reopening in %.1f s",
                            source.name, backoff)
            self.offline = True  # a live stream that ended or failed: reopen it
            if self._wait(backoff):
                break
            backoff = min(backoff * 2, settings.reconnect_max_s)

    def _came_online(self, name: str) -> None:
        # Only a delivered frame counts: rtspsrc and other GStreamer sources open lazily and
        # fail at the first read, so a successful open says nothing about the camera.
        self.stats.camera_online = True
        if self.offline:
            self.offline = False
            self.stats.reconnects += 1
            log.info("source reopened: %s (reconnect %d)", name, self.stats.reconnects)

    def _put_waiting(self, target: LatestSlot[Frame] | DropOldestQueue[Frame], frame: Frame,
                     stage: str) -> None:
        """Finite sources: wait for room instead of dropping (every frame gets processed).

        The consumer leaves only when this producer is done or on `halt`, so polling `halt`
        is what keeps a producer from waiting forever for a consumer that has died.
        """
        while not self.halt.is_set():
            self.heartbeats[stage] = time.monotonic()
            if isinstance(target, LatestSlot):
                room = target.wait_empty(POLL_S)
            else:
                room = target.wait_for_room(POLL_S)
            if room:  # only this thread puts, so the room cannot be taken meanwhile
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

    def _open_display(self):
        from app.display import Display, display_available

        wanted = self.config.display.enabled
        if self.options.headless or wanted is False:
            return None
        if not display_available():
            if wanted is True:
                log.warning("display.enabled is true but there is no display (DISPLAY unset, "
                            "or OpenCV without GUI); running without a window")
            return None
        return Display(self.config.display.title, self.config.display.fullscreen)

    def _output_loop(self) -> None:
        display = self._open_display()
        hud_on = self.config.overlay.hud
        ready_sent = False
        shown: np.ndarray | None = None  # the last annotated frame, for idle repaints
        try:
            while not self.halt.is_set():
                self.heartbeats["output"] = time.monotonic()
                frame = self.queue.get(POLL_S)
                if frame is None:
                    if self.inference_done.is_set() and len(self.queue) == 0:
                        return
                    idle = self._idle_picture(shown) if display is not None else None
                    if idle is not None and not display.show(idle):
                        display = self._window_closed(display)
                    continue
                started = time.perf_counter()
                hud = self.hud.text(self.offline) if hud_on else None
                annotated = self.renderer.annotate(frame.image, frame.labels, hud)
                rendered = time.perf_counter()
                self.stats.record("render", rendered - started)
                if display is not None:
                    shown = annotated
                    if not display.show(annotated):
                        display = self._window_closed(display)
                self.recording.write(annotated, live=self.live, fps=self._record_fps())
                self.stats.record("sinks", time.perf_counter() - rendered)
                self.stats.record("capture_to_output", time.monotonic() - frame.captured_at)
                self.stats.output.tick()
                self.stats.last_output = time.monotonic()
                if not ready_sent:
                    ready_sent = True
                    self.stats.first_output = self.stats.last_output
                    log.info("first frame through (%dx%d)", frame.image.shape[1],
                             frame.image.shape[0])
                    if self.notifier is not None:
                        self.notifier.ready()
        finally:
            if display is not None:
                display.close()
            self.recording.close()

    def _window_closed(self, display) -> None:
        """q/Esc or the close button: a graceful stop, as a signal would do; no more window."""
        log.info("window closed by the user: stopping")
        self.quit_by_user = True
        display.close()
        self.stop()
        return None

    def _idle_picture(self, shown: np.ndarray | None) -> np.ndarray | None:
        """What the window shows while no frame comes: the last frame (so the window keeps
        answering keys and repaints), dimmed with "CAMERA OFFLINE" while the source is down;
        None before the first frame of a source that has not failed (nothing to say yet)."""
        if not self.offline:
            return shown
        picture = np.zeros((*OFFLINE_SIZE, 3), np.uint8) if shown is None else shown >> 1
        draw_hud(picture, self.hud.text(True) if self.config.overlay.hud else "CAMERA OFFLINE")
        return picture

    def _output_heartbeat(self) -> None:
        self.heartbeats["output"] = time.monotonic()

    def _record_fps(self) -> float:
        """The recording's frame rate: configured, else the source's, else 15."""
        return next(f for f in (self.config.record.fps, self.source_fps, self.config.source.fps,
                                15.0) if f and f > 0)
