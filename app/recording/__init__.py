"""Recording annotated frames to disk in short, crash-tolerant segments with retention."""

from __future__ import annotations

from app.recording.encoders import RecorderError
from app.recording.recorder import SegmentRecorder

__all__ = ["RecorderError", "SegmentRecorder"]
