"""The mask in Python: a bundle on the backend the app would choose, called on a frame.

    from models import Segmenter

    seg = Segmenter.load("models/camvid-unet")   # or Segmenter.load(): the shipped bundle
    ids = seg(frame)                  # (H, W) uint8 class ids at the frame's own size
    seg.classes[ids[0, 0]]            # the class of the top-left pixel
    picture = seg.colorize(ids)       # (H, W, 3) uint8, the bundle's palette

A frame is BGR (OpenCV's order) unless `channel_order="rgb"`; `colorize` answers in the order
asked, BGR by default so `cv2.imwrite` shows the right colours. The frame goes through the
letterbox rule (models/letterbox.py: scaled to fit, padded bottom/right), the engine, the crop
back to the content and a nearest-neighbour stretch to the frame: the labels the app draws and
`segcam evaluate --bundle` scores. The app's inference stage uses this class too (`segment`:
the labels before the stretch, which the renderer does itself).

No TensorFlow, nothing of the app: `models/` is what both sides share.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from models.bundle import Bundle
from models.engines import open_engine
from models.engines.base import Engine
from models.letterbox import Letterbox, to_frame
from models.shipped import SHIPPED_BUNDLE

ChannelOrder = Literal["bgr", "rgb"]
CHANNEL_ORDERS = ("bgr", "rgb")


class Segmenter:
    """Owns an engine. The frame is scaled to fit the input (aspect kept) and padded
    bottom/right, as training padded its images, so a 360x480 frame runs unscaled in a 384x480
    model."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.input_h, self.input_w = engine.input_size
        self._letterbox = Letterbox(self.input_h, self.input_w)
        self._lut: np.ndarray | None = None  # colorize's table, made on first use

    @classmethod
    def load(cls, bundle: str | Path | Bundle | None = None, backend: str = "auto",
             threads: int | None = None, providers: list[str] | None = None,
             cache_dir: str | Path | None = None) -> Segmenter:
        """Open a bundle folder (default: the shipped models/camvid-unet, found from this code,
        not the current folder) with `models.engines.open_engine`, as the app does: `auto`
        tries TensorRT, ONNX Runtime on the GPU, LiteRT, ONNX Runtime on the CPU.

        Raises BundleError or EngineError (one-line messages) when it cannot."""
        return cls(open_engine(SHIPPED_BUNDLE if bundle is None else bundle, backend=backend,
                               threads=threads, providers=providers, cache_dir=cache_dir))

    # -- what the bundle says ----------------------------------------------------------------

    @property
    def bundle(self) -> Bundle:
        return self.engine.bundle

    @property
    def classes(self) -> list[str]:
        """Class names by id: `classes[ids[y, x]]` names a pixel."""
        return list(self.engine.classes)

    @property
    def palette(self) -> np.ndarray:
        """(len(classes), 3) uint8 RGB, one colour per class id."""
        return np.asarray(self.engine.palette, np.uint8)

    # -- frames ------------------------------------------------------------------------------

    def __call__(self, frame: np.ndarray, channel_order: ChannelOrder = "bgr") -> np.ndarray:
        """(H, W, 3) uint8 frame -> (H, W) uint8 class ids at the frame's size."""
        frame = _as_bgr(frame, channel_order)
        labels = to_frame(self.segment(frame), *frame.shape[:2])
        # Never hand out a view of the engine's output buffer: the next call may reuse it.
        return labels if labels.base is None else labels.copy()

    def colorize(self, ids: np.ndarray, channel_order: ChannelOrder = "bgr") -> np.ndarray:
        """(H, W) class ids -> (H, W, 3) uint8 picture in the bundle's palette (ids it does not
        have are black)."""
        _check_order(channel_order)
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.dtype.kind not in "ui":
            raise ValueError(f"ids must be an (H, W) integer array, got {ids.dtype} {ids.shape}")
        if self._lut is None:
            lut = np.zeros((256, 3), np.uint8)
            lut[: len(self.palette)] = self.palette[:256]
            self._lut = lut
        if ids.dtype == np.uint8:
            rgb = self._lut[ids]
        else:  # wider ids: those outside 0..255 have no colour either
            rgb = self._lut[np.clip(ids, 0, 255)]
            rgb[(ids < 0) | (ids > 255)] = 0
        return rgb if channel_order == "rgb" else np.ascontiguousarray(rgb[..., ::-1])

    def letterbox(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """The engine input and the (h, w) of the frame's content inside it (models.letterbox).

        The returned canvas is reused by the next call (one inference thread, no per-frame
        allocation); use it before letterboxing the next frame.
        """
        return self._letterbox.fit(image)

    def segment(self, image: np.ndarray, timings: dict[str, float] | None = None) -> np.ndarray:
        """(H, W, 3) BGR uint8 -> (h, w) uint8 labels of the frame's content at the model's
        scale (h, w <= input size); `to_frame` (or the renderer) stretches them to the frame."""
        t0 = time.perf_counter()
        batch, (content_h, content_w) = self.letterbox(image)
        t1 = time.perf_counter()
        labels = self.engine.infer(batch[None])[0]
        t2 = time.perf_counter()
        if timings is not None:
            timings["preprocess"] = t1 - t0
            timings["infer"] = t2 - t1
        return labels[:content_h, :content_w]

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Segmenter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_order(channel_order: str) -> None:
    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")


def _as_bgr(frame: np.ndarray, channel_order: str) -> np.ndarray:
    _check_order(channel_order)
    if (not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3
            or frame.shape[2] != 3 or 0 in frame.shape):
        got = (getattr(frame, "dtype", type(frame).__name__), getattr(frame, "shape", ""))
        raise ValueError(f"frame must be an (H, W, 3) uint8 image, got {got}")
    return cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) if channel_order == "rgb" else frame
