"""The stride rule and letterboxing: how a frame of any size meets a model's fixed input.

The Unet halves its resolution five times, so its input sides are multiples of `STRIDE`. A frame
is scaled to fit the input with its aspect kept and padded at the bottom and right (top-left
placement, as training pads its images), the model runs, and the labels are cropped back to the
frame's content; the renderer (and evaluation) then stretch them to the frame with nearest
neighbours. The app's Segmenter and `python -m training evaluate --bundle` both go through here,
so a bundle is scored on exactly the labels the app shows.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

STRIDE = 32


def round_up(size: int) -> int:
    """The smallest multiple of the stride that holds `size` pixels."""
    return STRIDE * math.ceil(size / STRIDE)


def fits_stride(height: int, width: int) -> bool:
    return height % STRIDE == 0 and width % STRIDE == 0


def pad_to_stride(image: np.ndarray) -> np.ndarray:
    """Zeros added bottom/right up to multiples of the stride; crop back with [:h, :w]."""
    h, w = image.shape[:2]
    pad = ((0, round_up(h) - h), (0, round_up(w) - w)) + ((0, 0),) * (image.ndim - 2)
    return np.pad(image, pad)


def content_size(height: int, width: int, input_h: int, input_w: int) -> tuple[int, int]:
    """The (h, w) a frame takes inside the input once scaled to fit with its aspect kept."""
    scale = min(input_h / height, input_w / width)
    # At least one row/column: a very thin frame would otherwise round to an empty resize.
    return (max(1, min(input_h, round(height * scale))),
            max(1, min(input_w, round(width * scale))))


def scale_to_fit(image: np.ndarray, input_h: int, input_w: int,
                 nearest: bool = False) -> np.ndarray:
    """The image scaled to its content size inside the input (no padding); `nearest` for
    label maps, area interpolation (as `Letterbox.fit`) for pictures."""
    h, w = image.shape[:2]
    content_h, content_w = content_size(h, w, input_h, input_w)
    if (content_h, content_w) == (h, w):
        return image
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(image, (content_w, content_h), interpolation=interpolation)


class Letterbox:
    """Scales and pads frames into one reused (input_h, input_w, 3) canvas."""

    def __init__(self, input_h: int, input_w: int) -> None:
        self.input_h, self.input_w = input_h, input_w
        self._canvas = np.zeros((input_h, input_w, 3), np.uint8)

    def fit(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """The model input and the (h, w) of the frame's content inside it.

        The canvas is reused by the next call (no per-frame allocation); use the result before
        fitting the next frame.
        """
        h, w = image.shape[:2]
        if (h, w) == (self.input_h, self.input_w):
            return image, (h, w)
        image = scale_to_fit(image, self.input_h, self.input_w)
        content_h, content_w = image.shape[:2]
        canvas = self._canvas
        canvas[:content_h, :content_w] = image
        canvas[content_h:] = 0
        canvas[:content_h, content_w:] = 0
        return canvas, (content_h, content_w)


def to_frame(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Content labels stretched to the frame's size with nearest neighbours, as rendered."""
    if labels.shape[:2] == (height, width):
        return labels
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
