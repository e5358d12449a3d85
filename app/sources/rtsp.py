"""rtsp://... - a network camera, decoded by whatever decodebin finds (nvv4l2decoder on Jetson)."""

from __future__ import annotations

from app.sources.base import Source, SourceOptions, redact
from app.sources.gst import open_pipeline


def quote(value: str) -> str:
    """Quote a property value for gst-launch syntax (URIs may hold & ; ! and spaces)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rtsp_pipeline(uri: str, options: SourceOptions) -> str:
    return (
        f"rtspsrc location={quote(uri)} latency={options.latency_ms} ! decodebin ! "
        "videoconvert ! video/x-raw,format=BGR ! appsink name=appsink drop=true max-buffers=1 sync=false"
    )


def open_rtsp(uri: str, options: SourceOptions) -> Source:
    return open_pipeline(uri, rtsp_pipeline(uri, options), options, name=redact(uri), may_end=False)
