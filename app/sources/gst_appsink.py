"""Run a GStreamer pipeline with PyGObject and pull BGR frames from its appsink."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import numpy as np

from app.sources.base import Source, SourceError, SourceOptions
from app.sources.gst_support import describe_gst_error, gst_modules

log = logging.getLogger(__name__)

POLL = 0.05  # seconds per pull attempt: how quickly a bus error or close() is noticed
EOS_WAIT = 1.0  # seconds close() waits for EOS to drain when asked to (nvarguscamerasrc)

# Channel order of the formats we accept, as indices that turn them into BGR.
_TO_BGR = {
    "BGR": (3, [0, 1, 2]), "RGB": (3, [2, 1, 0]),
    "BGRx": (4, [0, 1, 2]), "BGRA": (4, [0, 1, 2]),
    "RGBx": (4, [2, 1, 0]), "RGBA": (4, [2, 1, 0]),
    "xBGR": (4, [1, 2, 3]), "ABGR": (4, [1, 2, 3]),
    "xRGB": (4, [3, 2, 1]), "ARGB": (4, [3, 2, 1]),
    "GRAY8": (1, [0, 0, 0]),
}


def parse_launch(name: str, pipeline: str) -> Any:
    """The pipeline's elements, built (NULL state); a permanent SourceError if it cannot parse
    (a syntax error, an element that is not installed, a property it does not have)."""
    Gst, _GstApp, _GstVideo, GLib = gst_modules()
    try:
        return Gst.parse_launch(pipeline)
    except GLib.Error as err:
        raise SourceError(name, describe_gst_error(err.message), permanent=True) from None


def _debug_detail(debug: str | None) -> str:
    """The human part of GStreamer's debug text, without its "file.c(123): func ():" line."""
    lines = [line.strip() for line in (debug or "").strip().splitlines()]
    if lines and re.search(r"\.c\(\d+\)", lines[0]):
        lines = lines[1:]
    return " ".join(lines)


class AppsinkSource(Source):
    is_live = True  # csi://, rtsp:// and gst:// are treated as live; EOS still ends with None

    def __init__(self, uri: str, pipeline: str, options: SourceOptions, *, name: str | None = None,
                 eos_on_close: bool = False) -> None:
        super().__init__(uri, name)
        Gst, GstApp, self._GstVideo, _GLib = gst_modules()
        self._Gst = Gst
        self.timeout = options.timeout_s
        self.pipeline_text = pipeline
        self._eos_on_close = eos_on_close
        self._error: str | None = None
        element = parse_launch(self.name, pipeline)
        self._pipeline: Any = element
        self._bus: Any = element.get_bus()
        self._sink: Any = self._find_appsink(element, Gst, GstApp)
        if self._sink is None:
            self._teardown()
            raise SourceError(self.name, "the pipeline has no appsink to read frames from",
                              permanent=True)
        if self._sink.get_caps() is None:
            # Without caps appsink takes whatever videoconvert prefers (ABGR here). One caps
            # structure per format, BGR first, makes BGR the pick whenever upstream converts,
            # and still accepts a pipeline that fixed another RGB-like format itself.
            accepted = "; ".join(f"video/x-raw,format={fmt}" for fmt in _TO_BGR)
            self._sink.set_caps(Gst.Caps.from_string(accepted))
        if element.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            reason = self._bus_error() or "the pipeline refused to start"
            self._teardown()
            raise SourceError(self.name, reason)
        log.info("opened %s (GStreamer via PyGObject)", self.name)

    @staticmethod
    def _find_appsink(element: Any, Gst: Any, GstApp: Any) -> Any:
        if isinstance(element, GstApp.AppSink):
            return element
        named = element.get_by_name("appsink")
        if isinstance(named, GstApp.AppSink):
            return named
        # Gst.Iterator is only iterable with gst-python's overrides, so step it by hand.
        iterator = element.iterate_sinks()
        while True:
            result, sink = iterator.next()
            if result != Gst.IteratorResult.OK:
                return None
            if isinstance(sink, GstApp.AppSink):
                return sink

    def _bus_error(self) -> str | None:
        """Drain the bus (so it cannot grow); return the first error, log warnings."""
        Gst, bus = self._Gst, self._bus
        error = None
        while bus is not None:
            msg = bus.pop()
            if msg is None:
                break
            if msg.type == Gst.MessageType.ERROR and error is None:
                err, debug = msg.parse_error()
                where = msg.src.get_name() if msg.src is not None else "pipeline"
                detail = _debug_detail(debug)
                error = describe_gst_error(f"{err.message} ({where}{': ' + detail if detail else ''})")
            elif msg.type == Gst.MessageType.WARNING:
                warn, _ = msg.parse_warning()
                log.warning("%s: %s", self.name, warn.message)
        return error

    def _read(self) -> np.ndarray | None:
        Gst = self._Gst
        deadline = time.monotonic() + self.timeout
        while True:
            sink = self._sink  # local: close() from another thread may drop the attribute
            if sink is None or self.closed:
                raise SourceError(self.name, "read() after close()")
            # The first error sticks: a failed pipeline never recovers without reopening.
            self._error = self._error or self._bus_error()
            if self._error:
                raise SourceError(self.name, self._error)
            left = deadline - time.monotonic()
            sample = sink.try_pull_sample(int(max(0.0, min(POLL, left)) * Gst.SECOND))
            if sample is not None:
                return self._to_array(sample)
            if self.closed:  # close() from another thread flushed the sink
                raise SourceError(self.name, "read() after close()")
            if sink.is_eos():
                return None
            if time.monotonic() >= deadline:
                raise SourceError(self.name, f"no frame within {self.timeout:g} s")

    def _to_array(self, sample: Any) -> np.ndarray:
        GstVideo = self._GstVideo
        caps = sample.get_caps()
        info = GstVideo.VideoInfo.new_from_caps(caps)
        if info is None:
            raise SourceError(self.name, f"appsink caps are not raw video: {caps.to_string()}")
        fmt = GstVideo.VideoFormat.to_string(info.finfo.format)
        if fmt not in _TO_BGR:
            raise SourceError(self.name, f"unsupported pixel format {fmt}; end the pipeline with "
                              "videoconvert ! video/x-raw,format=BGR ! appsink")
        channels, order = _TO_BGR[fmt]
        width, height = info.width, info.height
        buffer = sample.get_buffer()
        # Rows may be padded (stride > width * channels, e.g. BGR at odd widths); a video meta,
        # when upstream attached one, overrides the default layout.
        meta = GstVideo.buffer_get_video_meta(buffer)
        stride = meta.stride[0] if meta is not None else info.stride[0]
        offset = meta.offset[0] if meta is not None else info.offset[0]
        ok, mapped = buffer.map(self._Gst.MapFlags.READ)
        if not ok:
            raise SourceError(self.name, "cannot map a GStreamer buffer")
        try:
            data = np.frombuffer(mapped.data, np.uint8)
        finally:
            buffer.unmap(mapped)
        needed = offset + stride * (height - 1) + width * channels
        if data.size < needed:
            raise SourceError(self.name, f"short buffer: {data.size} bytes for {width}x{height} {fmt} "
                              f"with stride {stride}")
        view = np.lib.stride_tricks.as_strided(
            data[offset:], shape=(height, width, channels), strides=(stride, channels, 1), writeable=False)
        if order == [0, 1, 2] and channels == 3:
            return view.copy()
        return np.ascontiguousarray(view[:, :, order])

    def _teardown(self) -> None:
        pipeline, self._pipeline, self._sink = self._pipeline, None, None
        if pipeline is not None:
            pipeline.set_state(self._Gst.State.NULL)
        self._bus_error()  # drop pending messages: they hold references to elements
        self._bus = None

    def __del__(self) -> None:
        # A source dropped without close() (say after a read error) must still reach NULL,
        # or GStreamer complains and its streaming threads keep running.
        try:
            if getattr(self, "_pipeline", None) is not None:
                self._teardown()
        except Exception:  # noqa: BLE001 - nothing useful to do during finalisation
            pass

    def _close(self) -> None:
        pipeline = self._pipeline
        if self._eos_on_close and pipeline is not None:
            # nvarguscamerasrc leaves the Argus daemon busy if stopped without EOS.
            pipeline.send_event(self._Gst.Event.new_eos())
            if self._bus is not None:
                self._bus.timed_pop_filtered(int(EOS_WAIT * self._Gst.SECOND),
                                             self._Gst.MessageType.EOS | self._Gst.MessageType.ERROR)
        self._teardown()
        log.info("closed %s", self.name)
