"""Frame -> labels for the inference stage: the models/ Segmenter (letterbox, infer, crop), the
same one `from models import Segmenter` gives a user's own code."""

from __future__ import annotations

from models.segmenter import Segmenter

__all__ = ["Segmenter"]
