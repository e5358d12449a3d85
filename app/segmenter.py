"""Frame -> labels: letterbox to the engine's input size, infer, crop the labels back."""

from __future__ import annotations

import time

import cv2
import numpy as np

from app.engines.base import Engine


class Segmenter:
    """Owns an engine. The frame is scaled to fit the input (aspect kept) and padded bottom/right,
    as training padded its images, so a 360x480 frame runs unscaled in a 384x480 model."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.input_h, self.input_w = engine.input_size
        self._canvas = np.zeros((self.input_h, self.input_w, 3), np.uint8)

    def letterbox(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """The engine input and the (h, w) of the frame's content inside it.

        The returned canvas is reused by the next call (one inference thread, no per-frame
        allocation); use it before letterboxing the next frame.
        """
        h, w = image.shape[:2]
        if (h, w) == (self.input_h, self.input_w):
            return image, (h, w)
        scale = min(self.input_h / h, self.input_w / w)
        # At least one row/column: a very thin frame would otherwise round to an empty resize.
        content_h = max(1, min(self.input_h, round(h * scale)))
        content_w = max(1, min(self.input_w, round(w * scale)))
        if (content_h, content_w) != (h, w):
            image = cv2.resize(image, (content_w, content_h), interpolation=cv2.INTER_AREA)
        canvas = self._canvas
        canvas[:content_h, :content_w] = image
        canvas[content_h:] = 0
        canvas[:content_h, content_w:] = 0
        return canvas, (content_h, content_w)

    def segment(self, image: np.ndarray, timings: dict[str, float] | None = None) -> np.ndarray:
        """(H, W, 3) BGR uint8 -> (h, w) uint8 labels covering the frame (h, w <= input size)."""
        t0 = time.perf_counter()
        batch, (content_h, content_w) = self.letterbox(image)
        t1 = time.perf_counter()
        labels = self.engine.infer(batch[None])[0]
        t2 = time.perf_counter()
        if timings is not None:
            timings["preprocess"] = t1 - t0
            timings["infer"] = t2 - t1
        return labels[:content_h, :content_w]
