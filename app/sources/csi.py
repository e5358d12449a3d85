"""csi://N - a Jetson CSI camera (nvarguscamerasrc), pipeline built from options, not typed."""

from __future__ import annotations

from fractions import Fraction

from app.sources.base import Source, SourceError, SourceOptions
from app.sources.gst import open_pipeline

DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS = 1280, 720, 30  # a mode every Jetson sensor offers


def framerate(fps: float) -> str:
    """GStreamer fraction: 30 -> '30/1', 29.97 -> '30000/1001' (the NTSC rates people mean)."""
    ntsc = round(fps * 1.001)
    if not float(fps).is_integer() and abs(ntsc * 1000 / 1001 - fps) < 0.005:
        return f"{ntsc * 1000}/1001"
    value = Fraction(fps).limit_denominator(1000)
    return f"{value.numerator}/{value.denominator}"


def csi_pipeline(sensor_id: int, options: SourceOptions) -> str:
    width = options.width or DEFAULT_WIDTH
    height = options.height or DEFAULT_HEIGHT
    fps = options.fps or DEFAULT_FPS
    return (
        f"nvarguscamerasrc sensor-id={sensor_id} ! "
        f"video/x-raw(memory:NVMM),width={width},height={height},framerate={framerate(fps)} ! "
        f"nvvidconv flip-method={options.flip} ! video/x-raw,format=BGRx ! "
        "videoconvert ! video/x-raw,format=BGR ! "
        "appsink drop=true max-buffers=1 sync=false"
    )


def sensor_id(uri: str, spec: str) -> int:
    if not spec.isdigit():
        raise SourceError(uri, f"csi:// wants a sensor number such as csi://0, got {spec!r}",
                          permanent=True)
    return int(spec)


def open_csi(uri: str, spec: str, options: SourceOptions) -> Source:
    # EOS before NULL: stopping nvarguscamerasrc abruptly can leave the Argus daemon busy.
    return open_pipeline(uri, csi_pipeline(sensor_id(uri, spec), options), options,
                         eos_on_close=True, may_end=False)
