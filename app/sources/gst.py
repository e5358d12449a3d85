"""gst://PIPELINE, and the runner every GStreamer-based source (csi, rtsp) goes through.

JetPack's OpenCV is built with GStreamer, so there the pipeline goes to cv2.VideoCapture;
PyPI's OpenCV is not, so elsewhere PyGObject's appsink runs it (app/sources/gst_appsink.py).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Literal

import cv2

from app.sources.base import Source, SourceError, SourceOptions, redact
from app.sources.gst_appsink import AppsinkSource, parse_launch
from app.sources.gst_opencv import OpenCVGstSource
from app.sources.gst_support import (
    INSTALL_HINT,
    element_available,
    element_names,
    gst_modules,
    missing_element_message,
)

__all__ = ["APPSINK_TAIL", "check_pipeline", "choose_backend", "element_names", "ensure_appsink",
           "gst_pipeline", "open_gst", "open_pipeline"]

log = logging.getLogger(__name__)

# OpenCV's GStreamer backend finds its sink by a name that starts with "appsink".
APPSINK_TAIL = "videoconvert ! video/x-raw,format=BGR ! appsink name=appsink drop=true max-buffers=1 sync=false"

Backend = Literal["auto", "opencv", "gi"]  # auto: OpenCV if built with GStreamer, else PyGObject

_APPSINK = re.compile(r"(?:^|!)\s*appsink(?:\s|$)")


def ensure_appsink(pipeline: str) -> str:
    """A user pipeline without an appsink gets one that delivers BGR, latest frame only."""
    pipeline = pipeline.strip().rstrip("!").strip()
    if _APPSINK.search(pipeline):
        return pipeline
    return f"{pipeline} ! {APPSINK_TAIL}"


@functools.lru_cache(maxsize=1)
def opencv_has_gstreamer() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line
    return False


@functools.lru_cache(maxsize=1)
def gi_available() -> bool:
    try:
        gst_modules()
    except SourceError:
        return False
    return True


def choose_backend(preference: Backend) -> str:
    """'opencv' or 'gi'; SourceError saying what to install when neither can run GStreamer."""
    if preference == "opencv" or (preference == "auto" and opencv_has_gstreamer()):
        if not opencv_has_gstreamer():
            raise SourceError("gstreamer", "this OpenCV is built without GStreamer "
                              "(cv2.getBuildInformation())", permanent=True)
        return "opencv"
    if gi_available():
        return "gi"
    raise SourceError("gstreamer", f"no way to run GStreamer pipelines: {INSTALL_HINT}",
                      permanent=True)


def open_pipeline(uri: str, pipeline: str, options: SourceOptions, *, name: str | None = None,
                  eos_on_close: bool = False, may_end: bool = True, backend: Backend = "auto") -> Source:
    """Run `pipeline` (which must contain an appsink) with the best backend available here, or
    the one `backend` names ("opencv", "gi"; the app always lets it choose)."""
    backend = _backend(name or uri, backend)
    log.debug("%s: GStreamer via %s: %s", redact(name or uri), backend, redact(pipeline))
    if backend == "opencv":
        return OpenCVGstSource(uri, pipeline, options, name=name, may_end=may_end)
    return AppsinkSource(uri, pipeline, options, name=name, eos_on_close=eos_on_close)


def check_pipeline(uri: str, pipeline: str, *, name: str | None = None) -> None:
    """What can be known without starting the pipeline (no camera or stream is touched): it
    parses and every element is installed. Raises a permanent SourceError otherwise."""
    label = name or uri
    if _backend(label, "auto") == "gi":
        Gst = gst_modules()[0]
        parse_launch(label, pipeline).set_state(Gst.State.NULL)  # built, never started
        return
    for element in element_names(pipeline):  # OpenCV only parses by starting: look elements up
        if element_available(element) is False:
            raise SourceError(label, missing_element_message(element), permanent=True)


def _backend(label: str, preference: Backend) -> str:
    try:
        return choose_backend(preference)
    except SourceError as err:
        raise SourceError(label, err.message, permanent=err.permanent) from None


def gst_pipeline(uri: str) -> str:
    """The pipeline a gst:// URI runs: anything gst-launch-1.0 accepts, plus an appsink."""
    pipeline = uri[len("gst://"):].strip()
    if not pipeline:
        raise SourceError(uri, "empty pipeline after gst://", permanent=True)
    return ensure_appsink(pipeline)


def open_gst(uri: str, options: SourceOptions, *, backend: Backend = "auto") -> Source:
    """gst://PIPELINE: anything gst-launch-1.0 accepts; an appsink is appended if missing."""
    return open_pipeline(uri, gst_pipeline(uri), options, backend=backend)
