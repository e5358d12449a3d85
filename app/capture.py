"""The capture stage: open the source, read frames into the LatestSlot, reopen with backoff.

A camera or stream that fails or stops is reopened with capped exponential backoff; it counts
as online (and a reconnect as done) only when a frame arrives, because rtspsrc and other
GStreamer sources open lazily and fail at the first read. A clip or image folder that cannot
be read is the user's to fix, not a camera to wait for: one line and the run ends.
"""

from __future__ import annotations

import logging
import time

from app.config import SourceSettings
from app.frame import Frame
from app.queues import LatestSlot, put_waiting
from app.run_state import POLL_S, RunState
from app.sources import Source, SourceError, open_source
from app.stats import Stats

log = logging.getLogger("app.pipeline")


class Capture:
    def __init__(self, settings: SourceSettings, state: RunState, stats: Stats,
                 slot: LatestSlot[Frame], max_frames: int | None = None) -> None:
        self.settings = settings
        self.state = state
        self.stats = stats
        self.slot = slot
        self.max_frames = max_frames
        self.live = True  # until a source says otherwise: never make a camera wait
        self.source_fps: float | None = None
        self.offline = False  # the source failed or ended and has not delivered a frame since
        self.skipped = 0  # frames the source could not read and left out (bad images)
        self._index = 0
        self._attempts = 0
        self._backoff = settings.reconnect_initial_s

    def run(self) -> None:
        while self.state.capturing:
            self.state.beat("capture")
            self._attempts += 1
            try:
                source = open_source(self.settings.uri, self.settings)
            except SourceError as error:
                if error.permanent and self._attempts == 1:
                    # A pipeline that cannot parse, a device that is not there at start: the
                    # user's to fix, not a camera to wait for (the CLI normally said so already).
                    self.state.failure = str(error)
                    log.error("%s", error)
                    return
                self.offline = True
                log.warning("camera offline: %s; retrying in %.1f s", error, self._backoff)
                if self._pause():
                    return
                continue
            self.live = source.is_live
            self.source_fps = source.fps
            try:
                ended = self._read_all(source)
            except SourceError as error:
                if not source.is_live:
                    # Reopening a clip would replay it from the start, forever.
                    self.state.failure = str(error)
                    log.error("%s", error)
                    return
                log.warning("camera offline: %s; reopening in %.1f s", error, self._backoff)
                ended = False
            except _Done:
                return
            finally:
                source.close()
                self.stats.camera_online = False
            if ended and not source.is_live:
                log.info("end of %s", source.name)
                self.stats.source_ended = True
                return
            if ended:
                log.warning("camera offline: %s stopped delivering; reopening in %.1f s",
                            source.name, self._backoff)
            self.offline = True  # a live stream that ended or failed: reopen it
            if self._pause():
                return

    def _read_all(self, source: Source) -> bool:
        """Read until the source ends (True) or the app stops (False); _Done at max_frames."""
        while self.state.capturing:
            self.state.beat("capture")
            image = source.read()
            self.skipped = source.skipped
            if image is None:
                return True
            if not self.stats.camera_online:
                self._came_online(source.name)
            frame = Frame(image=image, index=self._index, captured_at=time.monotonic())
            self._index += 1
            if self.live:
                self.slot.put(frame)
            else:
                put_waiting(self.slot, frame, self.state.halt,
                            lambda: self.state.beat("capture"), POLL_S)
            self.stats.captured.tick()
            if self.max_frames and self._index >= self.max_frames:
                log.info("reached --max-frames %d", self._index)
                raise _Done
        return False

    def _came_online(self, name: str) -> None:
        self.stats.camera_online = True
        self._backoff = self.settings.reconnect_initial_s  # frames flow again
        if self.offline:
            self.offline = False
            self.stats.reconnects += 1
            log.info("source reopened: %s (reconnect %d)", name, self.stats.reconnects)

    def _pause(self) -> bool:
        """Wait out the backoff in heartbeat-sized steps, then double it; True when stopping."""
        end = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.settings.reconnect_max_s)
        while time.monotonic() < end:
            self.state.beat("capture")
            if self.state.stop_capture.wait(min(POLL_S, max(0.0, end - time.monotonic()))):
                return True
            if self.state.halt.is_set():
                return True
        return not self.state.capturing


class _Done(Exception):
    """--max-frames reached: the capture stage ends as if the source had."""
