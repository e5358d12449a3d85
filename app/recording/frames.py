"""BGR frames of any size -> the bytes of a frame the H.264 encoders accept.

H.264 in 4:2:0 needs an even width and height (x264 fails with "Can not initialize x264
encoder" on 819x774), so odd sizes get one black column or row, right or below; the picture
itself is never scaled. GStreamer lays a BGR frame out with rows padded to 4 bytes, so a width
that is not a multiple of 4 needs those padding bytes too, or the picture would come out skewed.
"""

from __future__ import annotations

import numpy as np


class FramePacker:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.size = (width + width % 2, height + height % 2)  # what the encoder gets
        self.stride = (self.size[0] * 3 + 3) // 4 * 4
        self.frame_bytes = self.stride * self.size[1]
        self._canvas: np.ndarray | None = None
        if self.size != (width, height) or self.stride != width * 3:
            self._canvas = np.zeros((self.size[1], self.stride), np.uint8)  # black, once

    @property
    def padded(self) -> bool:
        return self.size != (self.width, self.height)

    def pack(self, image: np.ndarray) -> bytes:
        """The frame's bytes; `image` is (height, width, 3) uint8."""
        if self._canvas is None:
            return np.ascontiguousarray(image).tobytes()
        self._canvas[: self.height, : self.width * 3] = image.reshape(self.height, -1)
        return self._canvas.tobytes()  # a copy: the canvas is reused for the next frame
