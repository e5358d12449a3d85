"""The recording output: one segment recorder at a time, opened on the first frame, replaced
when the frame size changes, given up for the run when the disk fails."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.config import RecordSettings
from app.outputs.base import Output, Rendered

log = logging.getLogger(__name__)


DEFAULT_FPS = 15.0  # when neither record.fps, the source nor source.fps gives a rate


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
        self._stopped = False  # a recorder failed: no new one for the rest of the run
        self._closed_drops = 0
        self._last = None  # the recorder closed last, for `status` after recording stopped
        self._reason: str | None = None  # why no recorder could be built
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
        recorder = self.recorder or self._last
        if recorder is None:
            return ("error", self._reason) if self._stopped else ("waiting", None)
        if self._stopped and recorder.status in ("recording", "closed"):
            return "error", self._reason or recorder.stopped_reason
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
        if not self.settings.enabled or self._stopped:
            return
        recorder = self.recorder
        if recorder is not None and recorder.failed:
            # Full or unwritable disk: the recorder logged it; display and stats carry on.
            self._stopped = True
            self.close()
            return
        size = (annotated.shape[1], annotated.shape[0])
        if recorder is not None and (recorder.width, recorder.height) != size:
            log.info("frame size changed to %dx%d: starting a new segment", *size)
            self.close()
            recorder = None
        if recorder is None:
            recorder = self._open(size, fps, live)
            if recorder is None:
                return
        if not live:
            while not recorder.wait_for_room(self.poll_s) and not self.halt.is_set():
                self.heartbeat()
        recorder.write(annotated)

    def _open(self, size: tuple[int, int], fps: float, live: bool):
        from app.recording import RecorderError, SegmentRecorder

        settings = self.settings
        try:
            recorder = SegmentRecorder(
                settings.dir, fps=fps, size=size, segment_seconds=settings.segment_seconds,
                max_age_s=None if settings.max_age_hours is None else settings.max_age_hours * 3600,
                min_free_gb=settings.min_free_gb, encoder=settings.encoder,
                timestamps="clock" if live else "frames")
        except RecorderError as error:
            log.error("recording stopped: %s", error)
            self._stopped, self._reason = True, str(error)
            return None
        if recorder.failed:  # an unwritable record.dir or a full disk: the recorder logged it
            self._stopped, self._last = True, recorder
            recorder.close()
            return None
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
