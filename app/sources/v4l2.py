"""v4l2:///dev/videoN - a USB (UVC) camera through OpenCV's V4L2 backend."""

from __future__ import annotations

import logging
import math
import os

import cv2
import numpy as np

from app.sources.base import SourceError, SourceOptions, to_bgr
from app.sources.cv_capture import CvCaptureSource

log = logging.getLogger(__name__)


def device_path(spec: str) -> str:
    """'/dev/video0' stays; '0' becomes '/dev/video0' (v4l2://0 is accepted too)."""
    return f"/dev/video{spec}" if spec.isdigit() else spec


def fourcc_text(value: float) -> str:
    code = int(value)
    return "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).strip("\x00") or "?"


class V4L2Source(CvCaptureSource):
    is_live = True

    def __init__(self, uri: str, device: str, options: SourceOptions) -> None:
        super().__init__(uri)
        self.device = device
        if not os.path.exists(device):
            # Permanent: at start it is a wrong path; later (unplugged) the supervisor retries.
            raise SourceError(uri, f"no such device {device} (is the camera plugged in? see "
                              "v4l2-ctl --list-devices)", permanent=True)
        # OpenCV's V4L2 backend has no per-capture read timeout; it reads this variable once,
        # at its first select(), so the first camera's timeout is the one that applies.
        os.environ.setdefault("OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT", str(max(1, math.ceil(options.timeout_s))))
        cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise SourceError(uri, f"cannot open {device} as a V4L2 camera (busy, no permission, or not a capture device)")
        # MJPEG first when a size is asked for: raw YUYV over USB 2 rarely reaches 720p at 30 fps.
        codec = "MJPG" if options.width and options.height else None
        if codec:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*codec))
        if options.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, options.width)
        if options.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, options.height)
        if options.fps:
            cap.set(cv2.CAP_PROP_FPS, options.fps)
        self._cap = cap
        got = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        fourcc = fourcc_text(cap.get(cv2.CAP_PROP_FOURCC))
        if codec and fourcc != codec:
            log.warning("%s: asked for %s, camera gave %s", device, codec, fourcc)
        if options.width and options.height and got != (options.width, options.height):
            log.warning("%s: asked for %dx%d, camera gave %dx%d", device, options.width,
                        options.height, *got)
        log.info("opened %s (%dx%d %s @ %.3g fps)", device, *got, fourcc, cap.get(cv2.CAP_PROP_FPS))

    def _read(self) -> np.ndarray | None:
        with self._capture() as cap:
            ok, frame = cap.read()
        if not ok or frame is None:
            raise SourceError(self.name, f"no frame from {self.device} (unplugged or stalled)")
        return to_bgr(frame)
