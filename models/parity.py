"""Parity: how often an fp16 model file gives the same label as the fp32 Keras model.

Frames come from the user's sample images (resized to the input size) or, without any, from
synthetic smooth images: scenes of large soft regions exercise a segmenter more like a camera does
than white noise.
"""

from __future__ import annotations

import glob
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class SamplesError(ValueError):
    """--samples names nothing readable; one line."""


def sample_frames(samples: str | None, height: int, width: int, count: int = 8,
                  seed: int = 0) -> np.ndarray:
    """(N, height, width, 3) uint8 BGR frames: up to `count` sample images, else synthetic."""
    if not samples:
        return synthetic_frames(count, height, width, seed)
    paths = _image_paths(samples)[:count]
    if not paths:
        raise SamplesError(f"--samples: no images in {samples!r}")
    frames = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SamplesError(f"{path}: not a readable image")
        frames.append(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
    return np.stack(frames)


def _image_paths(samples: str) -> list[Path]:
    root = Path(samples).expanduser()
    if root.is_dir():
        found = root.iterdir()
    elif root.is_file():
        found = iter([root])
    else:
        found = (Path(p) for p in glob.glob(str(root)))
    return sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES)


def synthetic_frames(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random images: coarse colour noise upsampled, plus a few hard-edged blocks."""
    rng = np.random.default_rng(seed)
    frames = np.empty((count, height, width, 3), np.uint8)
    for i in range(count):
        coarse = rng.uniform(0, 255, (max(2, height // 16), max(2, width // 16), 3))
        image = cv2.resize(coarse.astype(np.float32), (width, height),
                           interpolation=cv2.INTER_CUBIC)
        for _ in range(3):  # edges like objects have
            y, x = rng.integers(0, height), rng.integers(0, width)
            h, w = rng.integers(height // 8, height // 2 + 1), rng.integers(width // 8, width // 2 + 1)
            image[y:y + h, x:x + w] = rng.uniform(0, 255, 3)
        image += rng.normal(0, 4, image.shape)  # sensor noise
        frames[i] = np.clip(image, 0, 255).astype(np.uint8)
    return frames


def agreement(labels: np.ndarray, reference: np.ndarray) -> float:
    """Fraction of pixels with the same label."""
    if labels.shape != reference.shape:
        raise ValueError(f"label shapes differ: {labels.shape} vs {reference.shape}")
    return float(np.mean(labels == reference))
