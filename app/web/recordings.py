"""The recorded segments as the web shows them: listing, safe lookup by name, and an MP4 copy
for browsers.

Browsers do not play Matroska reliably, but they all play H.264 in MP4: a segment is remuxed
(`matroskademux ! h264parse ! mp4mux`, no re-encoding, a fraction of a second per minute of
video) into a private cache the first time someone plays it. A name is looked up only if it
matches the recorder's own naming pattern, so no request can reach a file outside record.dir.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.recording.retention import EXTENSION, list_segments, segment_pattern

log = logging.getLogger(__name__)
PREFIX = "seg"  # the SegmentRecorder's default, which the recording output uses
CACHE_FILES = 8  # remuxed copies kept; older ones are deleted (they are remade on demand)
REMUX_TIMEOUT_S = 60.0


class RemuxError(Exception):
    """A segment could not be remuxed (truncated, not H.264): one line for the log and a 500."""


@dataclass(frozen=True)
class Segment:
    name: str
    path: Path
    started: datetime | None
    size: int
    duration_s: float | None  # None while it is being written or when it cannot be read
    recording: bool  # the segment the recorder has open now

    def as_json(self) -> dict:
        return {"name": self.name, "started": self.started.isoformat() if self.started else None,
                "size_bytes": self.size, "duration_s": self.duration_s,
                "recording": self.recording, "download": f"recordings/{self.name}",
                "play": None if self.recording else f"recordings/{Path(self.name).stem}.mp4"}


def started_at(name: str) -> datetime | None:
    """seg_20261125T231500_0001.mkv -> 2026-11-25 23:15:00 (the recorder's local time)."""
    try:
        return datetime.strptime(name.split("_")[1], "%Y%m%dT%H%M%S")
    except (IndexError, ValueError):
        return None


class Recordings:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.cache = Path(tempfile.mkdtemp(prefix="segcam-web-"))
        self._pattern = segment_pattern(PREFIX)
        self._durations: dict[tuple[str, int, int], float | None] = {}
        self._remux_lock = threading.Lock()  # one remux at a time: a 2-core board has no spare

    def find(self, name: str) -> Path | None:
        """The segment called `name` in record.dir, or None (any other name, `..`, a path)."""
        if not self._pattern.fullmatch(name):
            return None
        path = self.directory / name
        try:
            if path.is_file() and path.resolve().parent == self.directory.resolve():
                return path
        except OSError:
            pass
        return None

    def list(self, open_segment: Callable[[], str | None]) -> list[Segment]:
        """Every segment, newest first, with its start, size and length. `open_segment` is
        asked after the folder is read: a segment that opens meanwhile is then known as open,
        not taken for a closed one (the first segment of a run, on a busy machine)."""
        segments = []
        paths = list_segments(self.directory, PREFIX)
        writing = open_segment()
        for path in reversed(paths):
            try:
                stat = path.stat()
            except OSError:
                continue  # deleted by retention meanwhile
            recording = path.name == writing
            duration = None if recording else self.duration(path, stat.st_size, stat.st_mtime_ns)
            segments.append(Segment(path.name, path, started_at(path.name), stat.st_size,
                                    duration, recording))
        names = {s.name for s in segments}  # forget the lengths of segments retention deleted
        self._durations = {k: v for k, v in self._durations.items() if k[0] in names}
        return segments

    def duration(self, path: Path, size: int, mtime_ns: int) -> float | None:
        key = (path.name, size, mtime_ns)
        if key not in self._durations:
            self._durations[key] = probe_duration(path)
        return self._durations[key]

    def playable(self, name: str) -> Path | None:
        """An MP4 copy of the segment `name` (its stem + .mp4), remuxed on first use."""
        source = self.find(name.removesuffix(".mp4") + EXTENSION) if name.endswith(".mp4") \
            else None
        if source is None:
            return None
        stat = source.stat()
        target = self.cache / f"{source.stem}-{stat.st_size}-{stat.st_mtime_ns}.mp4"
        with self._remux_lock:
            if not target.exists():
                partial = target.with_suffix(".part")
                remux(source, partial)
                partial.replace(target)  # a reader never sees half a file
                self._trim_cache()
        target.touch()  # most recently used: trimmed last
        return target

    def _trim_cache(self) -> None:
        copies = sorted(self.cache.glob("*.mp4"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in copies[CACHE_FILES:]:
            old.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)


def _run_to_eos(pipeline, gst, timeout_s: float) -> str | None:
    """Play `pipeline` to its end; None, or GStreamer's error message."""
    bus = pipeline.get_bus()
    pipeline.set_state(gst.State.PLAYING)
    try:
        msg = bus.timed_pop_filtered(int(timeout_s * gst.SECOND),
                                     gst.MessageType.EOS | gst.MessageType.ERROR)
        if msg is None:
            return f"no end after {timeout_s:.0f} s"
        if msg.type == gst.MessageType.ERROR:
            return msg.parse_error()[0].message
        return None
    finally:
        pipeline.set_state(gst.State.NULL)


def remux(source: Path, target: Path) -> None:
    """Matroska H.264 -> MP4 (moov first, so a browser starts playing before the end)."""
    from app.recording.encoders import load_gst

    gst = load_gst()
    pipeline = gst.parse_launch("filesrc name=src ! matroskademux ! h264parse name=parse "
                                "! mp4mux faststart=true ! filesink name=sink")
    # Set as properties, not spliced into the description: a path may hold spaces or quotes.
    pipeline.get_by_name("src").set_property("location", str(source))
    pipeline.get_by_name("sink").set_property("location", str(target))
    pipeline.get_by_name("parse").get_static_pad("src").add_probe(
        gst.PadProbeType.BUFFER, _fill_missing_pts(gst), None)
    error = _run_to_eos(pipeline, gst, REMUX_TIMEOUT_S)
    if error is not None:
        target.unlink(missing_ok=True)
        raise RemuxError(f"cannot remux {source.name} to MP4: {error}")


def _fill_missing_pts(gst):
    """Matroska keeps milliseconds: two frames recorded within one (a burst when the output
    queue empties at once) come back with the second one's time missing, which mp4mux refuses.
    Such a frame gets its predecessor's time plus 1 ms."""
    last = [0]

    def probe(_pad, info, _data):
        buffer = info.get_buffer()
        if buffer.pts == gst.CLOCK_TIME_NONE:
            buffer.pts = last[0] + gst.MSECOND
        last[0] = buffer.pts
        return gst.PadProbeReturn.OK

    return probe


def probe_duration(path: Path) -> float | None:
    """The segment's length in seconds (GStreamer's Discoverer), None when unreadable."""
    from app.recording.encoders import load_gst

    gst = load_gst()
    try:
        import gi

        gi.require_version("GstPbutils", "1.0")
        from gi.repository import GLib, GstPbutils
    except (ImportError, ValueError):
        return None
    try:
        info = GstPbutils.Discoverer.new(5 * gst.SECOND).discover_uri(path.resolve().as_uri())
    except GLib.Error as error:
        log.debug("web: cannot read the length of %s: %s", path.name, error.message)
        return None
    duration = info.get_duration()
    return round(duration / gst.SECOND, 2) if duration and duration > 0 else None
