"""Frame -> labels: letterbox to the engine's input size, infer, crop the labels back."""

from __future__ import annotations

import time

import numpy as np

from models.engines.base import Engine
from models.letterbox import Letterbox


class Segmenter:
    """Owns an engine. The frame is scaled to fit the input (aspect kept) and padded bottom/right,
    as training padded its images, so a 360x480 frame runs unscaled in a 384x480 model."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.input_h, self.input_w = engine.input_size
        self._letterbox = Letterbox(self.input_h, self.input_w)

    def letterbox(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """The engine input and the (h, w) of the frame's content inside it (models.letterbox).

        The returned canvas is reused by the next call (one inference thread, no per-frame
        allocation); use it before letterboxing the next frame.
        """
        return self._letterbox.fit(image)

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
