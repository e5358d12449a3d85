"""What both GStreamer runners need: the PyGObject bindings, element look-ups, the wording of
"install this". A leaf module: gst.py and the two runners import it, it imports neither."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import threading
from typing import Any

from app.sources.base import SourceError

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

# An element is the first word of a "!"-separated segment that is not caps (video/x-raw) or a
# pad reference (t.), e.g. "nvvidconv flip-method=2" -> nvvidconv.
_ELEMENT = re.compile(r"^\s*([A-Za-z][\w-]*)(?=\s|$)")

_init_lock = threading.Lock()


def missing_element_message(element: str) -> str:
    where = ELEMENT_PACKAGES.get(element, "the GStreamer plugin package that provides it")
    return f"GStreamer element '{element}' is not available (needs {where}; check: gst-inspect-1.0 {element})"


def describe_gst_error(text: str) -> str:
    """Turn GStreamer's parse/bus wording into a message that names what to fix."""
    match = re.search(r'no element "([^"]+)"', text)
    if match:
        return missing_element_message(match.group(1))
    return text


def element_names(pipeline: str) -> list[str]:
    names = []
    for segment in pipeline.split("!"):
        match = _ELEMENT.match(segment)
        if match:
            names.append(match.group(1))
    return names


@functools.lru_cache(maxsize=1)
def _load() -> tuple[Any, Any, Any, Any]:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstApp", "1.0")
    gi.require_version("GstVideo", "1.0")
    from gi.repository import GLib, Gst, GstApp, GstVideo

    with _init_lock:
        if not Gst.is_initialized():
            Gst.init(None)
    return Gst, GstApp, GstVideo, GLib


def gst_modules() -> tuple[Any, Any, Any, Any]:
    """(Gst, GstApp, GstVideo, GLib), initialised once; SourceError if they cannot load."""
    try:
        return _load()
    except (ImportError, ValueError) as err:
        raise SourceError("gstreamer", f"PyGObject GStreamer bindings unavailable ({err}): "
                          f"{INSTALL_HINT}", permanent=True) from None


def element_available(name: str) -> bool | None:
    """Whether GStreamer has `name`; None when neither PyGObject nor gst-inspect can tell."""
    try:
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
