"""Run a GStreamer pipeline through cv2.VideoCapture (OpenCV built with GStreamer, e.g. JetPack).

Not exercised by the tests on a machine whose OpenCV lacks GStreamer (PyPI wheels).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from app.sources.base import SourceError, SourceOptions, to_bgr
from app.sources.cv_capture import CvCaptureSource
from app.sources.gst_support import element_available, element_names, missing_element_message

log = logging.getLogger(__name__)


class OpenCVGstSource(CvCaptureSource):
    is_live = True

    def __init__(self, uri: str, pipeline: str, options: SourceOptions, *, name: str | None = None,
                 may_end: bool = True) -> None:
        super().__init__(uri, name)
        self.pipeline_text = pipeline
        self._may_end = may_end  # False for cameras and rtsp: a failed read is never a clean end
        self._frames = 0
        ms = int(options.timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        cap = cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER, params)
        if not cap.isOpened():
            # Older OpenCV builds refuse open parameters their GStreamer backend does not know.
            cap.release()
            cap = cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER)
        if not cap.isOpened():
            cap.release()
            message, permanent = self._why_not_opened()
            raise SourceError(self.name, message, permanent=permanent)
        self._cap = cap
        log.info("opened %s (GStreamer via OpenCV)", self.name)

    def _why_not_opened(self) -> tuple[str, bool]:
        """The message, and whether it is permanent (an element that is not installed)."""
        for element in element_names(self.pipeline_text):
            if element_available(element) is False:
                return missing_element_message(element), True
        # OpenCV says nothing more: a camera that is busy or a stream that is down looks the same.
        return ("OpenCV could not start the GStreamer pipeline (run it with gst-launch-1.0 to see "
                "why)"), False

    def _read(self) -> np.ndarray | None:
        with self._capture() as cap:
            ok, frame = cap.read()
        if ok and frame is not None:
            self._frames += 1
            return to_bgr(frame)
        if self._frames and self._may_end:
            # OpenCV reports EOS and errors alike; after frames have flowed, call it the end.
            log.info("%s: stream ended after %d frames", self.name, self._frames)
            return None
        if self._frames:
            raise SourceError(self.name, f"stream stopped after {self._frames} frames")
        raise SourceError(self.name, "no frame from the GStreamer pipeline (device missing, or it timed out)")
