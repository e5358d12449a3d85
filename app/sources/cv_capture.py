"""What the sources that read a cv2.VideoCapture share (v4l2, video files, GStreamer through
OpenCV): one lock, so close() from another thread waits for a read in flight, then releases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import cv2

from app.sources.base import Source, SourceError


class CvCaptureSource(Source):
    """A subclass opens `self._cap` in its __init__ and reads it inside `with self._capture()`."""

    def __init__(self, uri: str, name: str | None = None) -> None:
        super().__init__(uri, name)
        self._lock = threading.Lock()
        self._cap: cv2.VideoCapture | None = None

    @contextmanager
    def _capture(self) -> Iterator[cv2.VideoCapture]:
        """The open capture, held against close() meanwhile; SourceError once it is closed."""
        with self._lock:
            if self._cap is None:
                raise SourceError(self.name, "read() after close()")
            yield self._cap

    def _close(self) -> None:
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
