"""When each RTSP frame is said to have been taken: its capture time, on the frame-rate grid.

Stamping a frame when it reaches the encoder (appsrc's do-timestamp) passes on the jitter of
inference and of a busy machine: two frames 20 ms apart in a 15 fps stream. libavformat
(ffmpeg, ffplay, OpenCV, VLC, NVRs) stores times in units of 1/rate, puts both in the same
unit and reports "non monotonically increasing dts" for the second. So a frame is stamped
with the time it was captured, rounded to the nearest multiple of the frame period, and every
stamp is a whole period after the one before. A frame that could only get a stamp more than
a period after its capture time (the source runs faster than its stated rate) is dropped:
skipping one beats a stream that drifts ahead of the camera.
"""

from __future__ import annotations

from fractions import Fraction

SECOND = 1_000_000_000  # GStreamer times are in nanoseconds


class FrameClock:
    """Turns capture times (ns of the media's running time) into strictly rising pts."""

    def __init__(self) -> None:
        self.last: int | None = None

    def stamp(self, captured_ns: int, fps: Fraction) -> int | None:
        """The frame's pts in ns, or None to drop it (captured before the media started, or
        no free slot within one period of its capture time)."""
        if captured_ns < 0:
            return None
        period = Fraction(SECOND) / fps
        slot = round(captured_ns / period)
        if self.last is not None:
            # Slots, not nanoseconds: a stamp is rounded to whole ns, so last + period would
            # land a nanosecond off the grid, next to the following frame's own slot.
            first_free = round(self.last / period) + 1
            if slot < first_free:
                if first_free * period - captured_ns > period:
                    return None
                slot = first_free
        pts = round(slot * period)
        self.last = pts
        return pts

    @staticmethod
    def duration(fps: Fraction) -> int:
        return round(Fraction(SECOND) / fps)
