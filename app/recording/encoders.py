"""Which H.264 encoder to use, and the GStreamer fragment that feeds it from BGR frames."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import ModuleType

log = logging.getLogger(__name__)


class RecorderError(RuntimeError):
    """A recorder that cannot be built as configured (no encoder, no GStreamer bindings)."""


@dataclass(frozen=True)
class Encoder:
    name: str  # the GStreamer element factory
    template: str  # raw BGR in (after appsrc) -> H.264 byte stream out; {gop} {kbps} {bps}

    def fragment(self, gop: int, kbps: int) -> str:
        return self.template.format(gop=gop, kbps=kbps, bps=kbps * 1000)


# I420 is forced before every encoder: from BGR, x264 would otherwise pick 4:4:4, which most
# players cannot decode. {gop} is the longest GOP in frames, an upper bound: the recorder
# asks for a key frame every second of video itself (keyframes.py), whatever the frame rate.
ENCODERS: dict[str, Encoder] = {
    # Jetson hardware encoder: frames go to NVMM memory through nvvidconv first.
    "nvv4l2h264enc": Encoder(
        "nvv4l2h264enc",
        "videoconvert ! video/x-raw,format=I420 ! nvvidconv ! video/x-raw(memory:NVMM),format=NV12"
        " ! nvv4l2h264enc bitrate={bps} iframeinterval={gop} idrinterval={gop}"
        " insert-sps-pps=true",
    ),
    "x264enc": Encoder(
        "x264enc",
        "videoconvert ! video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast"
        " key-int-max={gop} bitrate={kbps}",
    ),
    "openh264enc": Encoder(
        "openh264enc",
        "videoconvert ! video/x-raw,format=I420 ! openh264enc gop-size={gop} bitrate={bps}",
    ),
}
AUTO_ORDER = ("nvv4l2h264enc", "x264enc", "openh264enc")


def load_gst() -> ModuleType:
    """Import and initialise GStreamer's Python bindings (PyGObject), once."""
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstApp", "1.0")
        from gi.repository import Gst, GstApp  # noqa: F401 - see below
    except (ImportError, ValueError) as exc:
        raise RecorderError(
            "recording needs GStreamer's Python bindings: pip install 'pygobject<3.51' and "
            "apt install gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0"
        ) from exc
    # GstApp is imported before any pipeline here makes an appsink or appsrc: PyGObject builds an
    # element's Python class once, at its first instance, and one made before GstApp was loaded
    # lacks pull_sample & co. for the rest of the process (segments.py's check, then a gst://
    # source reopening, would then fail).
    if not Gst.is_initialized():
        Gst.init(None)
    return Gst


def choose_encoder(requested: str) -> Encoder:
    """'auto' picks the Jetson hardware encoder when present, else x264, else openh264."""
    gst = load_gst()
    if requested == "auto":
        candidates = AUTO_ORDER
    else:
        name = requested if requested.endswith("enc") else f"{requested}enc"
        if name not in ENCODERS:
            raise RecorderError(
                f"unknown encoder {requested!r}: choose auto, {', '.join(ENCODERS)}"
            )
        candidates = (name,)
    for name in candidates:
        if gst.ElementFactory.find(name) is not None:
            return ENCODERS[name]
    raise RecorderError(
        f"no H.264 encoder available (tried {', '.join(candidates)}): install "
        "gstreamer1.0-plugins-ugly for x264enc, or use a Jetson image with nvv4l2h264enc"
    )
