"""The hand-over between the output thread and the web server: the newest annotated frame, and
its JPEG, made at most once per frame and only while someone watches.

`publish()` (the output thread) only swaps a reference and wakes the encoder thread; the encoder
thread encodes the newest frame when a stream client is connected, so a frame nobody watches is
never encoded, and one JPEG serves every client. A one-off /api/frame.jpg takes the same cached
JPEG or encodes the newest frame itself, under the same lock, so no frame is encoded twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2

from app.outputs.base import Rendered

log = logging.getLogger(__name__)
IDLE_WAIT_S = 0.5  # the encoder re-checks `closed` this often while nothing happens


@dataclass(frozen=True)
class Jpeg:
    seq: int  # the hub's count of published frames when this one came
    data: bytes
    index: int  # the frame's index from the capture stage
    captured_at: float  # time.time() when the source returned the frame


def wall_time(monotonic: float) -> float:
    """A time.monotonic() reading as time.time() (the web shows clock times)."""
    return time.time() - (time.monotonic() - monotonic)


class FrameHub:
    def __init__(self, jpeg_quality: int = 80) -> None:
        self.jpeg_quality = jpeg_quality
        self.encodes = 0  # JPEGs made (for /metrics and the tests: at most one per frame)
        self._cond = threading.Condition()
        self._encode_lock = threading.Lock()
        self._latest: Rendered | None = None
        self._seq = 0
        self._jpeg: Jpeg | None = None
        self._watchers = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._on_jpeg: Callable[[], None] = lambda: None

    # -- the output thread -------------------------------------------------------------------

    def publish(self, rendered: Rendered) -> None:
        """Make `rendered` the newest frame; returns at once (no encoding here)."""
        with self._cond:
            self._latest = rendered
            self._seq += 1
            if self._watchers:
                self._cond.notify()

    # -- the web server ----------------------------------------------------------------------

    def latest(self) -> Rendered | None:
        return self._latest

    @property
    def published(self) -> int:
        """Frames handed over so far."""
        return self._seq

    @property
    def watchers(self) -> int:
        return self._watchers

    def watch(self) -> None:
        with self._cond:
            self._watchers += 1
            self._cond.notify()

    def unwatch(self) -> None:
        with self._cond:
            self._watchers -= 1

    def cached_jpeg(self) -> Jpeg | None:
        """The JPEG made last (maybe of an older frame); never encodes."""
        return self._jpeg

    def jpeg(self) -> Jpeg | None:
        """The newest frame as JPEG (None before the first frame); encodes only if it is new."""
        with self._encode_lock:
            rendered, seq = self._latest, self._seq
            cached = self._jpeg
            if rendered is None:
                return None
            if cached is not None and cached.seq == seq:
                return cached
            ok, data = cv2.imencode(".jpg", rendered.image,
                                    [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            if not ok:  # OpenCV failing on a valid uint8 image is a bug, not a user error
                raise RuntimeError("cv2.imencode failed on an annotated frame")
            self.encodes += 1
            self._jpeg = Jpeg(seq, data.tobytes(), rendered.frame.index,
                              wall_time(rendered.frame.captured_at))
            return self._jpeg

    # -- the encoder thread ------------------------------------------------------------------

    def start(self, on_jpeg: Callable[[], None]) -> None:
        """Start the encoder thread; `on_jpeg` is called (from it) after each new JPEG."""
        self._on_jpeg = on_jpeg
        self._thread = threading.Thread(target=self._run, name="web-jpeg", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 1.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _wanted(self) -> bool:
        cached = self._jpeg
        return self._closed or (self._watchers > 0 and self._latest is not None
                                and (cached is None or cached.seq != self._seq))

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(self._wanted, IDLE_WAIT_S)
                if self._closed:
                    return
                if not self._wanted():
                    continue
            try:
                self.jpeg()
                self._on_jpeg()
            except Exception:  # noqa: BLE001 - the live view is an extra: never end the app
                log.exception("web: encoding the live frame failed")
                time.sleep(IDLE_WAIT_S)
