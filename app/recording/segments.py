"""The segment files of one recorder, and the check that a finished one is a recording.

A finished segment must hold at least one key frame a player can start on: a full disk leaves
a 0-byte file, an encoder that cannot start leaves one with no frame, and neither may be
reported as recorded. The check demuxes with GStreamer's own matroskademux (no decoder needed,
so it works wherever recording works) and looks at the first video block only.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)


class SegmentFiles:
    """Segments a recorder opened, and those of them that closed holding a frame."""

    def __init__(self, gst: ModuleType, directory: Path) -> None:
        self._gst = gst
        self._directory = directory
        self._lock = threading.Lock()
        self._open: list[Path] = []
        self._done: list[Path] = []

    @property
    def done(self) -> list[Path]:
        """Closed segments that hold a frame and still exist, oldest first."""
        with self._lock:
            return [p for p in self._done if p.exists()]

    @property
    def open(self) -> list[Path]:
        with self._lock:
            return list(self._open)

    def opened(self, path: Path) -> None:
        with self._lock:
            self._open.append(path)

    def closed(self, path: Path) -> bool:
        """Settle a segment the muxer closed; False if it was not open (settled already)."""
        with self._lock:
            if path not in self._open:
                return False
            self._open.remove(path)
        self._settle(path)
        return True

    def settle_open(self) -> None:
        """After the pipeline stopped: the segments it never closed are as done as they get."""
        with self._lock:
            paths, self._open = self._open, []
        for path in paths:
            self._settle(path)

    def _settle(self, path: Path) -> None:
        """Keep a finished segment if it holds a frame; delete it if it does not."""
        if has_keyframe(self._gst, path):
            with self._lock:
                self._done.append(path)
            return
        if path.is_file() and path.parent == self._directory:  # never a device or a stranger
            path.unlink(missing_ok=True)
            log.warning("recorder: %s holds no playable frame; deleted", path.name)


def has_keyframe(gst: ModuleType, path: Path, timeout_s: float = 5.0) -> bool:
    """True when `path` is a non-empty Matroska file whose first frame is a key frame."""
    try:
        if path.stat().st_size == 0:
            return False
    except OSError:
        return False
    pipeline = gst.parse_launch(
        "filesrc name=src ! matroskademux ! appsink name=sink sync=false max-buffers=1"
    )
    pipeline.get_by_name("src").set_property("location", str(path))
    sink = pipeline.get_by_name("sink")
    bus = pipeline.get_bus()
    try:
        if pipeline.set_state(gst.State.PAUSED) == gst.StateChangeReturn.FAILURE:
            return False
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            sample = sink.emit("try-pull-preroll", 50 * gst.MSECOND)
            if sample is not None:
                return not sample.get_buffer().has_flags(gst.BufferFlags.DELTA_UNIT)
            # Not a Matroska file, or no video in it: an error or EOS instead of a frame.
            if bus.pop_filtered(gst.MessageType.ERROR | gst.MessageType.EOS) is not None:
                return False
        log.warning("recorder: no answer from the demuxer for %s in %.0f s", path, timeout_s)
        return False
    finally:
        pipeline.set_state(gst.State.NULL)
