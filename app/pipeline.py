"""The three threads of the frame path, their start, their stop and their joins.

capture --LatestSlot--> inference --DropOldestQueue--> output (render, then every output)

Live sources (cameras, streams) drop frames rather than queue them: the newest frame wins and
every drop is counted. Finite sources (files, image folders) are not live; for them the hand-offs
wait instead, so every frame of a clip is segmented and recorded.

Stopping: `stop()` (a signal, the window closed) stops capture and lets what is queued finish
within DRAIN_S; then, or on `stop_now()` or a stage's failure, `halt` makes every loop leave.
The output stage always closes its outputs (window, recording) on its way out. The stages live
in app/capture.py, app/inference.py and app/output_stage.py; the flags in app/run_state.py.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.capture import Capture
from app.config import AppConfig
from app.frame import Frame
from app.hud import HudText
from app.inference import Inference
from app.output_stage import OutputStage
from app.outputs import Output
from app.outputs.display import open_display
from app.outputs.recording import RecordingOutput
from app.queues import DropOldestQueue, LatestSlot
from app.render import Renderer
from app.reporting import StatsReporter
from app.run_state import DRAIN_S, POLL_S, RunState
from app.segmenter import Segmenter
from app.sources.base import redact
from app.stats import Stats
from models.version import version

log = logging.getLogger(__name__)
# After a halt, the output thread may take this long to close the window and the segment, then
# the other threads get JOIN_S. DRAIN_S + CLOSE_S + JOIN_S stays under the unit's
# TimeoutStopSec=10, so systemd never has to SIGKILL a recording half-closed.
CLOSE_S = 5.0
JOIN_S = 1.0
__all__ = ["CLOSE_S", "DRAIN_S", "JOIN_S", "Pipeline", "RunOptions"]


@dataclass
class RunOptions:
    headless: bool = False
    max_frames: int | None = None
    stats_json: Path | None = None


def known_hidden(hidden: list[str | int], classes: tuple[str, ...] | list[str]) -> list[str | int]:
    """The `overlay.hidden` entries this bundle has (a name it lacks hides nothing)."""
    return [h for h in hidden if not isinstance(h, str) or h in classes]


class Pipeline:
    def __init__(self, config: AppConfig, engine, options: RunOptions, notifier=None,
                 telemetry=None) -> None:
        self.config = config
        self.engine = engine
        self.notifier = notifier
        overlay = config.overlay
        # Built here, in the caller's thread, so a bad overlay setting fails before any thread.
        self.renderer = Renderer(engine.palette, engine.classes, alpha=overlay.alpha,
                                 hidden=known_hidden(overlay.hidden, engine.classes),
                                 mode=overlay.mode, legend=overlay.legend, hud=overlay.hud)
        self.state = RunState()
        self.stats = Stats()
        self.slot: LatestSlot[Frame] = LatestSlot()
        self.queue: DropOldestQueue[Frame] = DropOldestQueue(config.pipeline.output_queue)
        self.capture = Capture(config.source, self.state, self.stats, self.slot,
                               options.max_frames)
        self.inference = Inference(Segmenter(engine), self.state, self.stats, self.slot,
                                   self.queue, lambda: self.capture.live)
        self.recording = RecordingOutput(config.record, self.state.halt,
                                         lambda: self.state.beat("output"), POLL_S,
                                         configured_source_fps=config.source.fps)
        self.telemetry = telemetry
        self.hud = HudText(self.stats, self.drops, telemetry)
        outputs: list[Output] = []
        display = open_display(config.display, options.headless, self.stop)
        if display is not None:
            outputs.append(display)
        if config.record.enabled:
            outputs.append(self.recording)
        if config.rtsp.enabled:
            from app.outputs.rtsp import open_rtsp  # GStreamer's RTSP server only when asked

            outputs.append(open_rtsp(config.rtsp, config.record.encoder, config.source.fps))
        self.web = None
        if config.web.enabled:  # last: it binds its port, and nothing after it may fail
            from app.outputs.web import WebOutput

            self.web = WebOutput(config.web, self.status, self.stats, list(engine.classes),
                                 engine.palette, config.record.dir)
            outputs.append(self.web)
        self.output = OutputStage(self.renderer, self.hud if overlay.hud else None, outputs,
                                  self.state, self.stats, self.queue, self._source_state,
                                  on_first_frame=self._first_frame)
        self.reporter = StatsReporter(self.stats, self.drops, notifier, options.stats_json,
                                      lambda: self.capture.skipped)
        self.threads_stopped = True  # False when a thread outlived the join (see run())
        self._signals_seen = 0

    # -- what callers and tests read ---------------------------------------------------------

    @property
    def halt(self) -> threading.Event:
        return self.state.halt

    @property
    def error(self) -> BaseException | None:
        return self.state.error

    @property
    def failure(self) -> str | None:
        return self.state.failure

    @property
    def offline(self) -> bool:
        return self.capture.offline

    @property
    def stopping(self) -> bool:
        return self.state.stopping

    @property
    def recorded_files(self) -> list[Path]:
        return self.recording.files

    def drops(self) -> dict[str, int]:
        return {"capture": self.slot.dropped, "inference": self.queue.dropped,
                "record": self.recording.dropped}

    def last_progress(self) -> float:
        return self.state.last_progress()

    def report(self) -> dict:
        return self.reporter.report()

    def status(self) -> dict:
        """The live state for the web (from any thread; resets none of the report's rates)."""
        from app.web.status import camera_state, latency_ms

        stats = self.stats
        recorder = self.recording.recorder
        writing = recorder.open_segment if recorder is not None else None
        state, reason = self.recording.status
        return {
            "version": version(),
            "uptime_s": round(time.monotonic() - stats.started, 1),
            "frames": {"captured": stats.captured.total, "inferred": stats.inferred.total,
                       "output": stats.output.total},
            "latency": latency_ms(stats), "drops": self.drops(), "reconnects": stats.reconnects,
            "camera": camera_state(stats), "source": redact(self.config.source.uri),
            "backend": self.engine.name, "stopping": self.state.stopping,
            "recording": {"enabled": self.config.record.enabled,
                          "active": state == "recording", "state": state, "reason": reason,
                          "segment": writing.name if writing is not None else None,
                          "segments_this_run": len(self.recording.files) + (
                              len(recorder.files) + (writing is not None) if recorder else 0),
                          "dropped": self.recording.dropped},
            "telemetry": self.telemetry.snapshot() if self.telemetry is not None else {},
        }

    # -- stopping ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Graceful stop (the window closed, a caller): stop capturing, drain within DRAIN_S."""
        self.state.stop()

    def stop_now(self) -> None:
        """Hard stop: skip the drain; the segment is still closed."""
        self.state.stop_now()

    def request_stop(self, signum: int) -> None:
        """For signal handlers: only records the signal; the supervisor loop acts on it."""
        self.state.request_stop(signum)

    # -- run ---------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until the source ends, max_frames is reached, or a stop; 0, or 1 on a failure."""
        stages: list[tuple[str, Callable[[], None]]] = [
            ("capture", self.capture.run), ("inference", self.inference.run),
            ("output", self.output.run)]
        threads = [threading.Thread(target=self._guard, args=(name, loop), name=name, daemon=True)
                   for name, loop in stages]
        if self.notifier is not None:
            self.notifier.start_watchdog(self.last_progress, self.state.halt)
        for thread in threads:
            thread.start()
        try:
            self._supervise()
        finally:
            self.state.halt.set()  # also when the supervisor itself fails: no thread is left
            deadline = time.monotonic() + JOIN_S
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    self.threads_stopped = False
                    log.error("%s thread did not stop", thread.name)
        self._handle_signals()  # one that came after the output stage finished is answered too
        final = self.report()
        log.info("processed %d frames (%.1f FPS average)", final["frames"]["output"],
                 final["frames"]["output"] / max(final["uptime_s"], 1e-9))
        return 1 if self.state.error is not None or self.state.failure is not None else 0

    def _guard(self, name: str, loop: Callable[[], None]) -> None:
        """A bug in one stage stops the whole app (exit 1, so systemd restarts it)."""
        try:
            loop()
        except Exception as error:  # noqa: BLE001 - logged with traceback, then a clean stop
            log.exception("%s thread failed: %s", name, error)
            self.state.error = error
            self.state.halt.set()
        finally:
            self.state.done[name].set()

    def _supervise(self) -> None:
        """Act on signals, report stats every interval until the output stage is done, and
        enforce the drain and close deadlines."""
        state = self.state
        interval = self.config.pipeline.stats_interval_s
        next_report = time.monotonic() + interval
        halted_at: float | None = None
        while not state.done["output"].wait(min(POLL_S, max(0.0, next_report - time.monotonic()))):
            self._handle_signals()
            now = time.monotonic()
            if now >= next_report:
                self.report()
                next_report += interval
                if next_report <= now:  # the machine stalled: skip the missed reports
                    next_report = now + interval
            deadline = state.drain_deadline
            if deadline is not None and now > deadline and not state.halt.is_set():
                log.warning("queued frames did not finish within %.0f s; stopping now", DRAIN_S)
                state.halt.set()
            if state.halt.is_set():
                halted_at = now if halted_at is None else halted_at
                if now - halted_at > CLOSE_S:
                    log.error("output thread still busy %.0f s after the stop; leaving without it",
                              CLOSE_S)
                    return

    def _handle_signals(self) -> None:
        """The first signal drains and closes the recording; the next one stops at once."""
        while self._signals_seen < len(self.state.signals):
            name = signal.Signals(self.state.signals[self._signals_seen]).name
            self._signals_seen += 1
            if self.state.stopping:
                log.warning("%s again: stopping now without draining (the segment is still "
                            "closed)", name)
                self.stop_now()
                continue
            log.info("%s: finishing queued frames and closing the recording", name)
            if self.notifier is not None:
                self.notifier.stopping()
            self.stop()

    def _source_state(self) -> tuple[bool, float | None, bool]:
        return self.capture.live, self.capture.source_fps, self.capture.offline

    def _first_frame(self) -> None:
        if self.notifier is not None:
            self.notifier.ready()
