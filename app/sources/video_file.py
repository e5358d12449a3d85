"""file://clip.mp4 or a plain path - a video file decoded by OpenCV's FFmpeg backend."""

from __future__ import annotations

import logging
import math
import os

import cv2
import numpy as np

from app.sources.base import Pacer, SourceError, SourceOptions, to_bgr
from app.sources.cv_capture import CvCaptureSource

log = logging.getLogger(__name__)

DEFAULT_FPS = 30.0  # pacing rate when realtime is on and the file does not say


class VideoFileSource(CvCaptureSource):
    """Read as fast as the consumer asks, unless `options.realtime` paces it to the file's fps."""

    is_live = False

    def __init__(self, uri: str, path: str, options: SourceOptions) -> None:
        super().__init__(uri)
        self.path = path
        self.loop = options.loop
        if not os.path.isfile(path):
            raise SourceError(uri, f"no such video file: {path}", permanent=True)
        self._cap = cap = self._open()
        file_fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = file_fps if math.isfinite(file_fps) and file_fps > 0 else None
        pace = options.fps if options.fps is not None else (self.fps or DEFAULT_FPS)
        self._pacer = Pacer(pace if options.realtime else None)
        self._frames_this_pass = 0
        log.info("opened %s (%dx%d, %s fps, %d frames%s%s)", path,
                 int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                 self.fps or "?", int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
                 ", loop" if self.loop else "", ", realtime" if options.realtime else "")

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SourceError(self.name, f"cannot decode {self.path} (not a video, or a codec "
                              "FFmpeg lacks)", permanent=True)
        return cap

    def _read(self) -> np.ndarray | None:
        self._pacer.wait()
        with self._capture() as cap:
            ok, frame = cap.read()
            if not ok and self.loop:
                if self._frames_this_pass == 0:
                    raise SourceError(self.name, f"no frame could be decoded from {self.path}")
                # Reopening is more reliable than seeking to 0 across containers and codecs.
                cap.release()
                self._cap = cap = self._open()
                self._frames_this_pass = 0
                ok, frame = cap.read()
            if not ok:
                return None
            self._frames_this_pass += 1
            return to_bgr(frame)
