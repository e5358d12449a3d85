"""Augmentation with albumentations: image and label map transformed together.

Samples arrive fitted to the model input (`training.targets.fit_to_input`); their masks are label
maps (models.labels), augmented with nearest interpolation by construction and one-hot encoded
afterwards. Pixels added by padding, rotation or shifts take the value PAD (labels.VOID) and are
ignored by the losses and metrics.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Literal

import albumentations as A
import cv2
import numpy as np

from models.labels import VOID
from training.config import DEFAULT_INPUT_SIZE, AugmentConfig

PAD = VOID  # label given to pixels that do not come from the image; never a class


class Transform:
    """Image and label map transformed together; `seed` makes one call reproducible.

    Each thread gets its own Compose (the loader's threads call at once), and a seeded call
    draws from generators made from that seed alone, so a sample's augmentation depends on its
    seed and not on which thread ran it or what ran before. Without a seed, draws continue from
    the thread's own generators.
    """

    def __init__(self, build: Callable[[], A.Compose]):
        self._build = build
        self._local = threading.local()

    def _compose(self) -> A.Compose:
        compose = getattr(self._local, "compose", None)
        if compose is None:
            compose = self._local.compose = self._build()
        return compose

    def __call__(self, image: np.ndarray, mask: np.ndarray,
                 seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        compose = self._compose()
        if seed is not None:  # one generator pair shared by every step, as Compose(seed=) has
            compose.set_random_state(np.random.default_rng(seed), random.Random(seed))
        out = compose(image=image, mask=mask)
        return out["image"], out["mask"]


def _wrap(steps: Callable[[], list[A.BasicTransform]]) -> Transform:
    return Transform(lambda: A.Compose(steps()))


def _pad_to(height: int, width: int) -> A.PadIfNeeded:
    """models.letterbox's padding: zeros bottom/right up to the input size, void in the mask."""
    return A.PadIfNeeded(
        min_height=height,
        min_width=width,
        position="top_left",  # so predictions crop back to the content with [:h, :w]
        border_mode=cv2.BORDER_CONSTANT,
        fill=0,
        fill_mask=PAD,
    )


def train_transform(config: AugmentConfig,
                    crop: tuple[int, int] | None | Literal["config"] = "config",
                    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE) -> Transform:
    """Flip, zoom/shift/rotate, colour jitter, then a random crop to `crop` (default: the
    config's), or with `crop=None` the whole image padded to `input_size`."""
    if crop == "config":
        crop = config.crop
    return _wrap(lambda: _train_steps(config, crop, input_size))


def _train_steps(config: AugmentConfig, crop: tuple[int, int] | None,
                 input_size: tuple[int, int]) -> list[A.BasicTransform]:
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
    if config.photometric > 0:
        steps += photometric_steps(config.photometric)
    if crop is not None:
        height, width = crop  # multiples of the stride: checked when the config was read
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
        steps.append(_pad_to(*input_size))
    return steps


def photometric_steps(strength: float) -> list[A.BasicTransform]:
    """Light, colour and sensor changes scaled by `strength` (0-1): a dusk or overcast street, a
    cheaper camera. Geometry untouched, so the mask needs nothing."""
    s = strength
    return [
        A.RandomBrightnessContrast(brightness_limit=0.4 * s, contrast_limit=0.4 * s, p=0.8),
        A.RandomGamma(gamma_limit=(100 - 40 * s, 100 + 80 * s), p=0.5),  # above 100 darkens
        A.HueSaturationValue(hue_shift_limit=10 * s, sat_shift_limit=40 * s,
                             val_shift_limit=20 * s, p=0.5),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.MotionBlur(blur_limit=(3, 7))],
                p=0.3 * s),
        A.GaussNoise(std_range=(0.01, 0.01 + 0.05 * s), p=0.3 * s),
        A.ToGray(p=0.05 * s),
    ]


def eval_transform(input_size: tuple[int, int] = DEFAULT_INPUT_SIZE) -> Transform:
    """Validation pads the fitted image to the input (bottom/right), as the app letterboxes."""
    return _wrap(lambda: [_pad_to(*input_size)])
