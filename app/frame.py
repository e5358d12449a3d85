"""The unit that travels through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Frame:
    image: np.ndarray  # (H, W, 3) uint8 BGR, as OpenCV and GStreamer deliver it
    index: int  # sequence number assigned by the capture thread
    captured_at: float  # time.monotonic() when the source returned it
    labels: np.ndarray | None = None  # (h, w) uint8 class ids, set by the segmenter
    timings: dict[str, float] = field(default_factory=dict)  # stage name -> seconds
