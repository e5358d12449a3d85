"""Frame sources chosen by URI, in the jetson-inference style users already know.

    csi://0                      Jetson CSI camera (nvarguscamerasrc)
    v4l2:///dev/video0           USB camera (also v4l2://0 or plain /dev/video0)
    file://clip.mp4, clip.mp4    video file (FFmpeg)
    /dir, /dir/*.png, photo.jpg  images in name order (also file:///dir)
    rtsp://host/stream           network camera
    gst://PIPELINE               any GStreamer pipeline (an appsink is added if missing)
    test://?pattern=checker      synthetic moving pattern

    with open_source("test://", SourceOptions(fps=0)) as source:
        frame = source.read()   # (H, W, 3) uint8 BGR, None at the end, SourceError on failure
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs

from app.sources.base import Pacer, Source, SourceError, SourceOptions, redact

__all__ = ["Pacer", "Source", "SourceError", "SourceOptions", "check_source", "open_source"]

SCHEMES = ("csi", "v4l2", "file", "rtsp", "rtsps", "gst", "test")


def open_source(uri: str, options: SourceOptions | None = None) -> Source:
    """Open the source `uri` names. Raises SourceError (one line naming the URI) on failure."""
    options = options or SourceOptions()
    uri = uri.strip()
    if not uri:
        raise SourceError("source", "empty source URI", permanent=True)
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return _open_path(uri, uri, options)
    scheme = scheme.lower()
    if scheme == "csi":
        from app.sources.csi import open_csi

        return open_csi(uri, rest.strip("/"), options)
    if scheme == "v4l2":
        from app.sources.v4l2 import V4L2Source, device_path

        return V4L2Source(uri, device_path(rest), options)
    if scheme == "file":
        return _open_path(uri, rest, options)
    if scheme in ("rtsp", "rtsps"):
        from app.sources.rtsp import open_rtsp

        return open_rtsp(uri, options)
    if scheme == "gst":
        from app.sources.gst import open_gst

        return open_gst(uri, options)
    if scheme == "test":
        from app.sources.synthetic import TestPatternSource

        query = parse_qs(rest.partition("?")[2])
        return TestPatternSource(uri, options, pattern=query.get("pattern", ["bars"])[0])
    raise SourceError(redact(uri), f"unknown source scheme '{scheme}://' (expected one of "
                      f"{', '.join(s + '://' for s in SCHEMES)} or a path)", permanent=True)


def check_source(uri: str, options: SourceOptions | None = None) -> None:
    """At start: raise the permanent SourceError opening `uri` would give, without waiting for
    a camera or stream. Files and folders are opened (they must exist now); a device path must
    exist; a GStreamer pipeline must parse with every element installed (it is not started, so
    a camera is not grabbed and a stream not contacted)."""
    options = options or SourceOptions()
    uri = uri.strip()
    scheme, sep, rest = uri.partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme in ("csi", "rtsp", "rtsps", "gst"):
        from app.sources.gst import check_pipeline

        check_pipeline(uri, _pipeline_text(scheme, uri, rest, options), name=redact(uri))
        return
    if scheme == "v4l2" or (not sep and os.path.expanduser(uri).startswith("/dev/video")):
        from app.sources.v4l2 import device_path

        device = device_path(rest) if sep else os.path.expanduser(uri)
        if not os.path.exists(device):
            raise SourceError(uri, f"no such device {device} (is the camera plugged in? see "
                              "v4l2-ctl --list-devices)", permanent=True)
        return
    open_source(uri, options).close()  # files, folders, test://, and every malformed URI


def _pipeline_text(scheme: str, uri: str, rest: str, options: SourceOptions) -> str:
    if scheme == "csi":
        from app.sources.csi import csi_pipeline, sensor_id

        return csi_pipeline(sensor_id(uri, rest.strip("/")), options)
    if scheme == "gst":
        from app.sources.gst import gst_pipeline

        return gst_pipeline(uri)
    from app.sources.rtsp import rtsp_pipeline

    return rtsp_pipeline(uri, options)


def _open_path(uri: str, path: str, options: SourceOptions) -> Source:
    """A plain path or file://PATH: a camera device, images, or a video file."""
    from app.sources.images import ImageFolderSource, is_glob, is_image_file

    path = os.path.expanduser(path)
    if path.startswith("/dev/video"):
        from app.sources.v4l2 import V4L2Source

        return V4L2Source(uri, path, options)
    if os.path.isfile(path):
        is_images = is_image_file(path)  # a real file wins over glob-looking characters
    else:
        is_images = path.endswith("/") or os.path.isdir(path) or is_glob(path) or is_image_file(path)
    if is_images:
        return ImageFolderSource(uri, path, options)
    from app.sources.video_file import VideoFileSource

    return VideoFileSource(uri, path, options)
