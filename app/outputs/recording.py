"""The recording output: one segment recorder at a time, opened on the first frame, replaced
when the frame size changes, and replaced after a failure once the cause is gone.

A recorder that stops (a write or open error, no descriptor left, a full disk) is closed, which
keeps every segment it wrote, and a new one is tried after a backoff: RETRY_FIRST_S, doubling
up to RETRY_MAX_S. Before each try a cheap check (readiness.py) looks for a cause still
there, so a disk that stays full costs no pipeline and no log line per try. Only a recorder
that cannot be built at all before one ever ran (no H.264 encoder) ends recording for the run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.config import RecordSettings
from app.outputs.base import Output, Rendered

log = logging.getLogger(__name__)


DEFAULT_FPS = 15.0  # when neither record.fps, the source nor source.fps gives a rate
RETRY_FIRST_S = 2.0  # the first new recorder after a failure comes this long after it ...
RETRY_MAX_S = 60.0  # ... each next one twice as long after, up to this


class RecordingOutput(Output):
    name = "recorder"

    def __init__(self, settings: RecordSettings, halt: threading.Event,
                 heartbeat: Callable[[], None], poll_s: float,
                 configured_source_fps: float | None = None) -> None:
        self.settings = settings
        self.configured_source_fps = configured_source_fps
        self.halt = halt
        self.heartbeat = heartbeat  # called while a clip waits for the encoder
        self.poll_s = poll_s
        self.recorder = None
        self.files: list[Path] = []
        self._given_up = False  # no recorder can be built here: none for the rest of the run
        self._closed_drops = 0
        self._last = None  # the recorder closed last, for `status` after recording stopped
        self._problem: tuple[str, str | None] | None = None  # (state, reason) while stopped
        self._retry_at = 0.0  # monotonic time of the next try after a failure
        self._delay = RETRY_FIRST_S
        self._opened_at = 0.0
        self._worked = False  # a recorder ran this run: a later build failure is not config
        self._lock = threading.Lock()  # recorder swap vs `dropped` read from other threads

    @property
    def dropped(self) -> int:
        with self._lock:
            recorder = self.recorder
            return self._closed_drops + (recorder.dropped if recorder else 0)

    @property
    def status(self) -> tuple[str, str | None]:
        """(state, reason) for status pages and metrics: "off", "waiting" (no frame yet),
        "recording", or why it stopped ("low_disk", "error"), with the one-line reason."""
        if not self.settings.enabled:
            return "off", None
        if self._problem is not None:
            return self._problem
        recorder = self.recorder or self._last
        if recorder is None:
            return "waiting", None
        return recorder.status, recorder.stopped_reason

    def fps(self, source_fps: float | None) -> float:
        """The recording's frame rate: configured, else the source's, else source.fps, else 15."""
        return next(f for f in (self.settings.fps, source_fps, self.configured_source_fps,
                                DEFAULT_FPS) if f and f > 0)

    def write(self, rendered: Rendered) -> None:
        self.record(rendered.image, live=rendered.live, fps=self.fps(rendered.source_fps))

    def record(self, annotated: np.ndarray, *, live: bool, fps: float) -> None:
        """Record one annotated frame; a live source drops when the encoder is behind, a clip
        waits for it so every frame is recorded."""
        if not self.settings.enabled or self._given_up:
            return
        recorder = self.recorder
        if recorder is not None and recorder.failed:
            # Full disk, write error: the recorder logged it; display and stats carry on.
            self._stopped(recorder.status, recorder.stopped_reason)
            self.close()
            return
        size = (annotated.shape[1], annotated.shape[0])
        if recorder is not None and (recorder.width, recorder.height) != size:
            log.info("frame size changed to %dx%d: starting a new segment", *size)
            self.close()
            recorder = None
        if recorder is None:
            if time.monotonic() < self._retry_at:
                return
            recorder = self._open(size, fps, live)
            if recorder is None:
                return
        if not live:
            while not recorder.wait_for_room(self.poll_s) and not self.halt.is_set():
                self.heartbeat()
        recorder.write(annotated)

    def _stopped(self, state: str, reason: str | None) -> None:
        """Recording stopped on a failure: say why (status) and when the next try comes."""
        now = time.monotonic()
        if self._opened_at and now - self._opened_at > RETRY_MAX_S:
            self._delay = RETRY_FIRST_S  # it had been recording fine: start the backoff over
        if self._problem is None:
            log.info("recording: trying again in %.0f s, then less and less often while it "
                     "fails", self._delay)
        self._problem = (state, reason)
        self._retry_at = now + self._delay
        self._delay = min(2 * self._delay, RETRY_MAX_S)
        self._opened_at = 0.0

    def _open(self, size: tuple[int, int], fps: float, live: bool):
        from app.recording import RecorderError, SegmentRecorder
        from app.recording.readiness import blocker

        settings = self.settings
        if self._problem is not None:
            cause = blocker(Path(settings.dir), settings.min_free_gb)
            if cause is not None:  # still there: said once already
                log.debug("recording: still stopped: %s", cause[1])
                self._stopped(*cause)
                return None
        try:
            recorder = SegmentRecorder(
                settings.dir, fps=fps, size=size, segment_seconds=settings.segment_seconds,
                max_age_s=None if settings.max_age_hours is None else settings.max_age_hours * 3600,
                min_free_gb=settings.min_free_gb, encoder=settings.encoder,
                timestamps="clock" if live else "frames")
        except RecorderError as error:
            if not self._worked:  # a configuration problem (no encoder): trying cannot help
                log.error("recording stopped: %s", error)
                self._given_up, self._problem = True, ("error", str(error))
                return None
            log.error("recording: %s", error)  # it worked before: resources ran out
            self._stopped("error", str(error))
            return None
        if recorder.failed:  # an unwritable record.dir or a full disk: the recorder logged it
            self._last = recorder
            recorder.close()
            self._stopped(recorder.status, recorder.stopped_reason)
            return None
        if self._problem is not None:
            log.info("recording resumed (it had stopped: %s)", self._problem[1])
        self._problem, self._worked = None, True
        self._opened_at = time.monotonic()
        with self._lock:
            self.recorder = recorder
        return recorder

    def close(self) -> None:
        """Close the open segment (if any); its files join `files`."""
        with self._lock:
            recorder, self.recorder = self.recorder, None
            if recorder is None:
                return
            self._closed_drops += recorder.dropped
            self._last = recorder
        recorder.close()  # outside the lock: it may wait for the encoder's EOS
        self.files.extend(recorder.files)
        log.info("recording closed: %d segment(s) in %s", len(recorder.files), self.settings.dir)
