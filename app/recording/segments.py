"""The segment files of one recorder, and the check that a finished one is a recording.

A finished segment that holds no frame is not a recording: a full disk can leave a 0-byte file,
an encoder that cannot start one with no frame, and neither may be reported as recorded. The
check demuxes with GStreamer's own matroskademux (no decoder needed, so it works wherever
recording works) and looks at the first video block only. A file is deleted only when the
check ran and found no frame: when it cannot run (no descriptor left, the file unreadable for
now, a stalled machine) the segment is kept, since whatever was written is the recording.
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
        """Keep a finished segment unless it certainly holds no frame."""
        if not path.is_file() or path.parent != self._directory:
            return  # never opened (the open failed), or a device or a stranger: leave it
        verdict = holds_frame(self._gst, path)
        if verdict is False:
            path.unlink(missing_ok=True)
            log.warning("recorder: %s holds no playable frame; deleted", path.name)
            return
        if verdict is None:
            log.warning("recorder: could not check %s for frames; kept", path.name)
        with self._lock:
            self._done.append(path)


def holds_frame(gst: ModuleType, path: Path, timeout_s: float = 5.0) -> bool | None:
    """True when `path` is a Matroska file whose first video frame is a key frame, False when it
    certainly holds no playable frame (empty, not Matroska, no video, a delta frame first), None
    when the check could not run."""
    try:
        if path.stat().st_size == 0:
            return False
    except OSError:
        return None
    try:
        pipeline = gst.parse_launch(
            "filesrc name=src ! matroskademux ! appsink name=sink sync=false max-buffers=1"
        )
    except Exception:  # noqa: BLE001 - GLib.Error: no descriptor for the pipeline's own poll
        return None
    pipeline.get_by_name("src").set_property("location", str(path))
    sink = pipeline.get_by_name("sink")
    bus = pipeline.get_bus()
    try:
        if pipeline.set_state(gst.State.PAUSED) == gst.StateChangeReturn.FAILURE:
            return _verdict(gst, bus.pop_filtered(gst.MessageType.ERROR))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            sample = sink.emit("try-pull-preroll", 50 * gst.MSECOND)
            if sample is not None:  # a player starts on a key frame; a first delta frame
                # is what a write cut short by a full disk leaves (cv2 decodes nothing of it)
                return not sample.get_buffer().has_flags(gst.BufferFlags.DELTA_UNIT)
            # Not a Matroska file, or no video in it: an error or EOS instead of a frame.
            message = bus.pop_filtered(gst.MessageType.ERROR | gst.MessageType.EOS)
            if message is not None:
                return _verdict(gst, message)
            if sink.get_property("eos"):  # read to the end with no frame (EOS reaches the bus
                return False              # only in PLAYING: a cut-short file ends here)
        log.warning("recorder: no answer from the demuxer for %s in %.0f s", path, timeout_s)
        return None
    finally:
        pipeline.set_state(gst.State.NULL)


def _verdict(gst: ModuleType, message) -> bool | None:
    """What an EOS or error before the first frame says: the demuxer read the file and found
    no video (False), or the file could not be read at all (None: try another time)."""
    if message is None or message.type != gst.MessageType.ERROR:
        return False if message is not None else None  # EOS: read to the end, no frame
    error, _debug = message.parse_error()
    return False if error.matches(gst.stream_error_quark(), error.code) else None
