"""SegmentRecorder: BGR frames -> H.264 -> Matroska files of `segment_seconds` each.

    appsrc -> videoconvert -> H.264 encoder -> h264parse -> splitmuxsink(matroskamux)

Matroska is written front to back and the file sink is unbuffered, so a segment cut short by a
crash or power loss still decodes every frame the muxer got; every closed segment is complete.
splitmuxsink holds back the GOP in progress, and a key frame starts a GOP every second of pts
time whatever the real frame rate (keyframes.py), so a crash loses about one second more.
Frames of odd width or height are padded with black to even ones (H.264 4:2:0 needs them).
A bus thread watches the pipeline: when a segment closes it checks the file holds a frame
(segments.py; `files` lists those, and those it could not check; only a file certainly without
a frame is deleted) and applies retention; a write or open error (full disk, directory gone,
no descriptor left) makes the recorder `failed`, and so does a free-space goal that deleting
old segments cannot reach: this recorder stops then (`status`, `stopped_reason`) instead of
deleting the history, keeping what it wrote, and the recording output starts a new one once
the cause is gone (app/outputs/recording.py). `write()` never blocks on the encoder and never raises: when the encoder falls
behind, frames are dropped and counted.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.recording.encoders import RecorderError, choose_encoder, load_gst
from app.recording.frames import FramePacker
from app.recording.keyframes import KeyframePacer, force_key_unit_event, load_gst_video
from app.recording.readiness import low_disk_reason
from app.recording.retention import Pruned, prune, segment_name
from app.recording.segments import SegmentFiles

log = logging.getLogger(__name__)


class SegmentRecorder:
    """Record frames of one size into time-named segments in `directory`.

    timestamps: "frames" gives frame i the time i/fps (the video plays at `fps` whatever the
        real rate was); "clock" stamps each frame with the time since the first write, so a
        slower producer still plays back in real time.
    max_queue_frames: frames appsrc may hold before write() starts dropping.
    min_free_gb: free space to keep in `directory`; the oldest segments are deleted for it,
        but never the open one or the one just closed, and none when that would not be enough.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        fps: float,
        size: tuple[int, int],
        segment_seconds: float = 60,
        max_age_s: float | None = None,
        min_free_gb: float = 0.0,
        encoder: str = "auto",
        prefix: str = "seg",
        bitrate_kbps: int = 4000,
        timestamps: str = "frames",
        max_queue_frames: int = 8,
    ) -> None:
        if fps <= 0 or segment_seconds <= 0:
            raise ValueError("fps and segment_seconds must be positive")
        if timestamps not in ("frames", "clock"):
            raise ValueError(f"timestamps must be 'frames' or 'clock', got {timestamps!r}")
        self.directory = Path(directory)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.width, self.height = int(size[0]), int(size[1])
        self._packer = FramePacker(self.width, self.height)
        self.encoded_size = self._packer.size  # even: odd sizes are padded with black
        self.segment_seconds = float(segment_seconds)
        self.max_age_s = max_age_s
        self.min_free_gb = float(min_free_gb)
        self.prefix = prefix
        self.timestamps = timestamps
        self.frames_written = 0
        self.dropped = 0
        self.stopped_reason: str | None = None  # one line, once recording stopped on its own

        self._status = "recording"
        self._frame_bytes = self._packer.frame_bytes
        self._index = 0
        self._t0: float | None = None
        self._failed = False  # write() is a no-op: stopped on low disk, or errored
        self._errored = False
        self._closed = False
        self._lock = threading.Lock()
        self._sequence = 0
        self._eos = threading.Event()
        self._eos_sent = False
        self._pacer = KeyframePacer()
        self._keys_forced = 0
        self._stop_bus = threading.Event()
        self._bus_thread: threading.Thread | None = None
        self._warned: set[str] = set()
        self._pipeline: Any = None
        self._src: Any = None
        self._max_bytes = self._frame_bytes * max(1, max_queue_frames)
        self._last_pts = -1
        # pts -> wall-clock time of recent frames, to name a segment after its first frame.
        self._wall_times: dict[int, datetime] = {}
        self._wall_times_max = int(float(self.fps) * 3) + max_queue_frames + 16

        self._encoder = choose_encoder(encoder)  # raises RecorderError: a configuration problem
        self._gst = load_gst()
        self._gst_video = load_gst_video()
        self._segments = SegmentFiles(self._gst, self.directory)
        if not self._directory_writable():
            return
        # Leftovers of earlier runs; nothing is open yet, so the newest may go too.
        pruned = prune(self.directory, prefix, max_age_s, self.min_free_gb, keep_newest=False)
        if pruned.short_bytes:
            self._stop_low_disk(pruned)
            return
        self._start_pipeline(bitrate_kbps)

    # -- public ------------------------------------------------------------------------------

    @property
    def failed(self) -> bool:
        return self._failed

    @property
    def status(self) -> str:
        """recording | closed | low_disk (stopped: the free-space goal is out of reach) |
        error (stopped: unwritable directory, write error, pipeline failure)."""
        return self._status

    @property
    def files(self) -> list[Path]:
        """Closed segments of this recorder that hold a frame and still exist, oldest first."""
        return self._segments.done

    @property
    def open_segment(self) -> Path | None:
        """The segment being written now, if any (not yet in `files`)."""
        current = self._segments.open
        return current[-1] if current else None

    @property
    def encoder(self) -> str:
        return self._encoder.name

    def write(self, image: np.ndarray) -> None:
        """Queue one BGR frame. Cheap no-op once failed or closed; never raises."""
        if self._failed or self._closed:
            return
        try:
            self._push(image)
        except Exception:  # the caller's frame loop must survive anything in here
            log.exception("recorder: write failed, recording stops")
            self._fail("recorder: write failed", logged=True)

    def wait_for_room(self, timeout: float) -> bool:
        """Wait up to `timeout` s until write() would queue a frame rather than drop it.

        For sources that are not live, where every frame must be recorded: the caller waits
        here instead of letting write() drop. True at once when failed or closed (write() is
        then a no-op anyway).
        """
        end = time.monotonic() + timeout
        while not (self._failed or self._closed or self._src is None):
            if self._src.get_property("current-level-bytes") + self._frame_bytes <= self._max_bytes:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.002)  # appsrc (block=false) has no wait of its own: poll briefly
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Finish the open segment so it is complete and playable, then release everything."""
        if self._closed:
            return
        self._closed = True
        if self._pipeline is None:
            return
        if not self._errored:
            self._end_stream()
        if self._eos_sent and not self._eos.wait(timeout):
            log.warning("recorder: no EOS after %.0f s; the last segment may be cut", timeout)
        self._stop_bus.set()
        if self._bus_thread is not None:
            self._bus_thread.join(timeout)
        self._pipeline.set_state(self._gst.State.NULL)
        self._segments.settle_open()
        log.info(
            "recorder: closed, %d frames written, %d dropped, %d segments",
            self.frames_written, self.dropped, len(self.files),
        )
        if self._status == "recording":
            self._status = "closed"

    def __enter__(self) -> SegmentRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- frames ------------------------------------------------------------------------------

    def _push(self, image: np.ndarray) -> None:
        gst = self._gst
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            self._warn_once(
                "size", "recorder: frames are %s %s, expected (%d, %d, 3) uint8; resizing",
                image.shape, image.dtype, self.height, self.width,
            )
            image = cv2.resize(np.asarray(image, np.uint8), (self.width, self.height))
        index = self._index
        self._index += 1
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        src = self._src
        if src.get_property("current-level-bytes") + self._frame_bytes > self._max_bytes:
            self.dropped += 1  # the encoder is behind: losing a frame beats stalling the loop
            return
        buf = gst.Buffer.new_wrapped(self._packer.pack(image))
        frame_ns = int(gst.SECOND / self.fps)
        if self.timestamps == "clock":
            pts = max(int((now - self._t0) * gst.SECOND), self._last_pts + 1)  # strictly rising
        else:
            pts = int(index * gst.SECOND / self.fps)
        self._last_pts = pts
        buf.pts = pts
        self._wall_times[pts] = datetime.now()
        if len(self._wall_times) > self._wall_times_max:
            del self._wall_times[next(iter(self._wall_times))]  # oldest: dicts keep order
        buf.duration = frame_ns
        if self._pacer.due(pts):
            self._keys_forced += 1
            src.send_event(force_key_unit_event(gst, self._gst_video, self._keys_forced))
        if src.emit("push-buffer", buf) == gst.FlowReturn.OK:
            self.frames_written += 1
        else:
            self.dropped += 1  # flushing after an error; the bus thread reports it

    # -- pipeline ----------------------------------------------------------------------------

    def _directory_writable(self) -> bool:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe-"):
                pass
        except OSError as exc:
            self._fail(f"recorder: cannot write to {self.directory} ({exc}); recording disabled")
            return False
        return True

    def _start_pipeline(self, bitrate_kbps: int) -> None:
        gst = self._gst
        # An upper bound only: the pacer's key frame every second comes first. A count of fps
        # would add a second key frame most seconds when frames come a little faster than fps.
        gop = 2 * max(1, round(float(self.fps)))
        width, height = self.encoded_size
        caps = (
            f"video/x-raw,format=BGR,width={width},height={height},"
            f"framerate={self.fps.numerator}/{self.fps.denominator}"
        )
        description = (
            f"appsrc name=src is-live=true format=time block=false max-bytes={self._max_bytes}"
            f" caps={caps} ! {self._encoder.fragment(gop, bitrate_kbps)} ! h264parse"
            # Key frames come every second (keyframes.py); a segment ends on the one nearest
            # to its length: splitmuxsink ends it before the GOP that would pass max-size-time.
            f" ! splitmuxsink name=mux muxer=matroskamux send-keyframe-requests=false"
            f" max-size-time={int((self.segment_seconds + 0.5) * gst.SECOND)}"
        )
        log.debug("recorder pipeline: %s", description)
        try:
            self._pipeline = gst.parse_launch(description)
        except Exception as exc:  # GLib.Error: an element is missing or will not link
            raise RecorderError(f"cannot build the recording pipeline: {exc}") from exc
        self._src = self._pipeline.get_by_name("src")
        mux = self._pipeline.get_by_name("mux")
        # Unbuffered: what the muxer has produced is in the kernel, not in a 64 KB user-space
        # buffer that a SIGKILL or a crash would throw away with the last second of video.
        sink = gst.ElementFactory.make("filesink", "sink")
        sink.set_property("buffer-mode", 2)  # GST_FILE_SINK_BUFFER_MODE_UNBUFFERED
        mux.set_property("sink", sink)
        mux.set_property("location", str(self.directory / f"{self.prefix}_%05d.mkv"))  # unused
        mux.connect("format-location-full", self._on_format_location)
        self._bus_thread = threading.Thread(
            target=self._watch_bus, name="recorder-bus", daemon=True
        )
        self._bus_thread.start()
        if self._pipeline.set_state(gst.State.PLAYING) == gst.StateChangeReturn.FAILURE:
            self._fail("recorder: pipeline did not start")
            return
        log.info(
            "recorder: %s, %dx%d%s @ %s fps, %g s segments in %s",
            self._encoder.name, self.width, self.height,
            f" padded to {width}x{height}" if self._packer.padded else "",
            self.fps, self.segment_seconds, self.directory,
        )

    def _on_format_location(self, _mux: Any, _fragment_id: int, first: Any) -> str:
        # Called from the streaming thread when a segment opens, which is about one GOP after
        # its first frame was written: name it by the wall-clock time of that first frame.
        started = None
        buf = first.get_buffer() if first is not None else None
        if buf is not None:
            # The encoder shifts timestamps (x264enc by 1000 h); running time undoes that and
            # gives back the pts this recorder stamped on the frame in write().
            running = first.get_segment().to_running_time(self._gst.Format.TIME, buf.pts)
            started = self._wall_times.get(running)
        path = self._next_location(started or datetime.now())
        self._segments.opened(path)
        return str(path)

    def _next_location(self, started: datetime) -> Path:
        """A fresh name from the segment's start time (tests replace this to fake a full disk)."""
        with self._lock:
            while True:
                self._sequence += 1
                path = self.directory / segment_name(self.prefix, started, self._sequence)
                if not path.exists():  # a restart within the same second must not overwrite
                    return path

    def _watch_bus(self) -> None:
        gst = self._gst
        bus = self._pipeline.get_bus()
        wanted = gst.MessageType.ERROR | gst.MessageType.EOS | gst.MessageType.ELEMENT
        while not self._stop_bus.is_set():
            msg = bus.timed_pop_filtered(100 * gst.MSECOND, wanted)
            if msg is None:
                continue
            if msg.type == gst.MessageType.EOS:
                self._eos.set()
            elif msg.type == gst.MessageType.ERROR:
                err, _debug = msg.parse_error()
                where = ", ".join(map(str, self._segments.open)) or str(self.directory)
                self._fail(f"recorder: {err.message} ({where}); recording stopped")
                return
            elif msg.type == gst.MessageType.ELEMENT:
                structure = msg.get_structure()
                name = structure.get_name() if structure is not None else ""
                if name == "splitmuxsink-fragment-closed":
                    self._segment_closed(Path(structure.get_string("location")))

    def _segment_closed(self, path: Path) -> None:
        log.info("recorder: segment %s closed", path.name)
        if not self._segments.closed(path):
            return  # settled already, after a failure
        protect = {path, *self._segments.open}  # never the open one, nor the one just closed
        if self.max_age_s is not None or self.min_free_gb > 0:
            pruned = prune(self.directory, self.prefix, self.max_age_s, self.min_free_gb, protect)
            if pruned.short_bytes:
                self._stop_low_disk(pruned)

    def _end_stream(self) -> None:
        """Finish the open segment (EOS alone, with no frame, would leave an empty file)."""
        with self._lock:
            if self._eos_sent or not self.frames_written:
                return
            self._eos_sent = True
        self._src.emit("end-of-stream")

    def _stop_low_disk(self, pruned: Pruned) -> None:
        if self._failed:
            return
        self._failed = True
        self._status = "low_disk"
        self.stopped_reason = low_disk_reason(self.directory, pruned.free_bytes, self.min_free_gb)
        log.warning(self.stopped_reason)
        if self._pipeline is not None:
            self._end_stream()  # the open segment still ends cleanly; close() waits for it

    def _fail(self, message: str, logged: bool = False) -> None:
        if self._errored:
            return
        self._errored = self._failed = True
        if self._status == "recording":  # a write error after a low-disk stop keeps that reason
            self._status, self.stopped_reason = "error", message
        self._eos.set()  # nothing more will come; do not make close() wait
        if not logged:
            log.error(message)
        if self._pipeline is not None:
            # Release the file and the encoder; later write() calls return at the first check.
            self._pipeline.set_state(self._gst.State.NULL)
            self._segments.settle_open()

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)
