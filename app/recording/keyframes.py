"""Key frames by time, not by frame count.

An encoder's GOP length is a frame count (x264 key-int-max, nvv4l2h264enc iframeinterval,
openh264 gop-size), set from the nominal fps. A busy board may deliver 5 frames/s while the
nominal rate says 30, so that GOP would span 6 s; splitmuxsink holds the GOP in progress back
until the next key frame, so a crash would lose all of it. The pacer asks for a key frame on the
first frame of every second of pts time instead; the frame count stays as an upper bound.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from app.recording.encoders import RecorderError

SECOND_NS = 1_000_000_000


class KeyframePacer:
    """Which frames must be key frames so that no GOP spans more than `interval_ns` of pts."""

    def __init__(self, interval_ns: int = SECOND_NS) -> None:
        self.interval_ns = interval_ns
        self._next = interval_ns  # the first frame of a stream is a key frame anyway

    def due(self, pts: int) -> bool:
        if pts < self._next:
            return False
        self._next = (pts // self.interval_ns + 1) * self.interval_ns  # whole seconds of pts
        return True


def load_gst_video() -> ModuleType:
    try:
        import gi

        gi.require_version("GstVideo", "1.0")
        from gi.repository import GstVideo
    except (ImportError, ValueError) as exc:
        raise RecorderError(
            "recording needs GStreamer's video library bindings: apt install "
            "gir1.2-gst-plugins-base-1.0"
        ) from exc
    return GstVideo


def force_key_unit_event(gst: ModuleType, gst_video: ModuleType, count: int) -> Any:
    """A downstream force-key-unit event for the next frame after it.

    It carries no running time on purpose: GstVideoEncoder compares a requested running time
    with its own, which x264enc shifts by 1000 hours, so a timed request is ignored there.
    Untimed, it applies to the first frame that follows it, and appsrc keeps events in order
    with the buffers pushed around them. Every GstVideoEncoder (x264enc, openh264enc,
    nvv4l2h264enc) handles it the same way.
    """
    none = gst.CLOCK_TIME_NONE
    return gst_video.video_event_new_downstream_force_key_unit(none, none, none, True, count)
