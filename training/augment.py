"""Augmentation with albumentations: image and index mask transformed together.

Masks are augmented as class-index maps (nearest interpolation by construction, one channel,
cheap) and one-hot encoded afterwards; pixels added by padding, rotation or shifts take the value
PAD and are ignored by the losses and metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import albumentations as A
import cv2
import numpy as np

from models.letterbox import STRIDE
from training.config import AugmentConfig

PAD = 255  # index given to pixels that do not come from the image; never a class value

Transform = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _wrap(compose: A.Compose) -> Transform:
    def apply(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = compose(image=image, mask=mask)
        return out["image"], out["mask"]

    return apply


def _pad_to_stride() -> A.PadIfNeeded:
    """models.letterbox's padding: zeros bottom/right up to multiples of the stride."""
    return A.PadIfNeeded(
        min_height=None,
        min_width=None,
        pad_height_divisor=STRIDE,
        pad_width_divisor=STRIDE,
        position="top_left",  # so predictions crop back to the image with [:h, :w]
        border_mode=cv2.BORDER_CONSTANT,
        fill=0,
        fill_mask=PAD,
    )


def train_transform(config: AugmentConfig,
                    crop: tuple[int, int] | None | Literal["config"] = "config") -> Transform:
    """Flip, zoom/shift/rotate, colour jitter, then a random crop to `crop` (default: the
    config's), or with `crop=None` the whole image padded to a multiple of 32."""
    if crop == "config":
        crop = config.crop
    steps: list[A.BasicTransform] = []
    if config.flip:
        steps.append(A.HorizontalFlip(p=0.5))
    steps.append(
        A.Affine(
            scale=config.scale,
            translate_percent=(-0.05, 0.05),
            rotate=(-config.rotate, config.rotate),
            interpolation=cv2.INTER_LINEAR,
            mask_interpolation=cv2.INTER_NEAREST,
            border_mode=cv2.BORDER_CONSTANT,
            fill=0,
            fill_mask=PAD,
            p=0.7,
        )
    )
    if config.color_jitter > 0:
        j = config.color_jitter
        steps.append(A.ColorJitter(brightness=j, contrast=j, saturation=j, hue=j / 8, p=0.8))
    if crop is not None:
        height, width = crop
        if height % STRIDE or width % STRIDE:
            raise ValueError(f"train.augment.crop: {height}x{width} is not a multiple of {STRIDE}")
        steps += [
            A.PadIfNeeded(
                min_height=height,
                min_width=width,
                border_mode=cv2.BORDER_CONSTANT,
                fill=0,
                fill_mask=PAD,
            ),
            A.RandomCrop(height=height, width=width),
        ]
    else:
        steps.append(_pad_to_stride())
    return _wrap(A.Compose(steps))


def eval_transform() -> Transform:
    """Validation only pads to a multiple of 32 (bottom/right), so nothing is resampled."""
    return _wrap(A.Compose([_pad_to_stride()]))
