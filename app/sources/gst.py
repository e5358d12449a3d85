"""gst://PIPELINE, and the runner every GStreamer-based source (csi, rtsp) goes through.

JetPack's OpenCV is built with GStreamer, so there the pipeline goes to cv2.VideoCapture;
PyPI's OpenCV is not, so elsewhere PyGObject's appsink runs it (app/sources/gst_appsink.py).
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess

import cv2

from app.sources.base import Source, SourceError, SourceOptions

log = logging.getLogger(__name__)

APPSINK_TAIL = "videoconvert ! video/x-raw,format=BGR ! appsink name=sink drop=true max-buffers=1 sync=false"

INSTALL_HINT = (
    "install the GStreamer Python bindings (Debian: apt install gir1.2-gstreamer-1.0 "
    "gir1.2-gst-plugins-base-1.0 libgirepository1.0-dev libcairo2-dev, then pip install "
    "'pygobject<3.51') or use an OpenCV built with GStreamer (JetPack's)"
)

# Where the elements users most often miss come from.
ELEMENT_PACKAGES = {
    "nvarguscamerasrc": "a Jetson with JetPack (nvidia-l4t-gstreamer); there is no CSI camera here",
    "nvvidconv": "a Jetson with JetPack (nvidia-l4t-gstreamer)",
    "nvv4l2decoder": "a Jetson with JetPack (nvidia-l4t-gstreamer)",
    "rtspsrc": "gstreamer1.0-plugins-good",
    "v4l2src": "gstreamer1.0-plugins-good",
    "h264parse": "gstreamer1.0-plugins-bad",
    "h265parse": "gstreamer1.0-plugins-bad",
    "x264enc": "gstreamer1.0-plugins-ugly",
    "avdec_h264": "gstreamer1.0-libav",
    "appsink": "gstreamer1.0-plugins-base",
    "videoconvert": "gstreamer1.0-plugins-base",
}


def missing_element_message(element: str) -> str:
    where = ELEMENT_PACKAGES.get(element, "the GStreamer plugin package that provides it")
    return f"GStreamer element '{element}' is not available (needs {where}; check: gst-inspect-1.0 {element})"


_APPSINK = re.compile(r"(?:^|!)\s*appsink(?:\s|$)")
# An element is the first word of a "!"-separated segment that is not caps (video/x-raw) or a
# pad reference (t.), e.g. "nvvidconv flip-method=2" -> nvvidconv.
_ELEMENT = re.compile(r"^\s*([A-Za-z][\w-]*)(?=\s|$)")


def ensure_appsink(pipeline: str) -> str:
    """A user pipeline without an appsink gets one that delivers BGR, latest frame only."""
    pipeline = pipeline.strip().rstrip("!").strip()
    if _APPSINK.search(pipeline):
        return pipeline
    return f"{pipeline} ! {APPSINK_TAIL}"


def element_names(pipeline: str) -> list[str]:
    names = []
    for segment in pipeline.split("!"):
        match = _ELEMENT.match(segment)
        if match:
            names.append(match.group(1))
    return names


def element_available(name: str) -> bool | None:
    """Whether GStreamer has `name`; None when neither PyGObject nor gst-inspect can tell."""
    try:
        from app.sources.gst_appsink import gst_modules

        Gst = gst_modules()[0]
        return Gst.ElementFactory.find(name) is not None
    except SourceError:
        pass
    inspect = shutil.which("gst-inspect-1.0")
    if inspect is None:
        return None
    try:
        done = subprocess.run([inspect, "--exists", name], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.returncode == 0


@functools.lru_cache(maxsize=1)
def opencv_has_gstreamer() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line
    return False


@functools.lru_cache(maxsize=1)
def gi_available() -> bool:
    try:
        from app.sources.gst_appsink import gst_modules

        gst_modules()
    except SourceError:
        return False
    return True


def choose_backend(preference: str) -> str:
    """'opencv' or 'gi'; SourceError saying what to install when neither can run GStreamer."""
    if preference == "opencv" or (preference == "auto" and opencv_has_gstreamer()):
        if not opencv_has_gstreamer():
            raise SourceError("gstreamer", "this OpenCV is built without GStreamer (cv2.getBuildInformation())")
        return "opencv"
    if gi_available():
        return "gi"
    raise SourceError("gstreamer", f"no way to run GStreamer pipelines: {INSTALL_HINT}")


def open_pipeline(uri: str, pipeline: str, options: SourceOptions, *, name: str | None = None,
                  eos_on_close: bool = False, may_end: bool = True) -> Source:
    """Run `pipeline` (which must contain an appsink) with the best backend available here."""
    try:
        backend = choose_backend(options.gst_backend)
    except SourceError as err:
        raise SourceError(name or uri, err.message) from None
    log.debug("%s: GStreamer via %s: %s", name or uri, backend, pipeline)
    if backend == "opencv":
        from app.sources.gst_opencv import OpenCVGstSource

        return OpenCVGstSource(uri, pipeline, options, name=name, may_end=may_end)
    from app.sources.gst_appsink import AppsinkSource

    return AppsinkSource(uri, pipeline, options, name=name, eos_on_close=eos_on_close)


def open_gst(uri: str, options: SourceOptions) -> Source:
    """gst://PIPELINE: anything gst-launch-1.0 accepts; an appsink is appended if missing."""
    pipeline = uri[len("gst://"):].strip()
    if not pipeline:
        raise SourceError(uri, "empty pipeline after gst://")
    return open_pipeline(uri, ensure_appsink(pipeline), options)
