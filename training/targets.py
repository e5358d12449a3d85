"""What the model is trained against: samples fitted to the input, and label maps as targets.

The target of a (H, W) label map (models.labels, void = labels.VOID) is (H, W, C + 1) float32:
the C output channels one-hot, then one channel that is 1 where the pixel counts and 0 where it
is void or padding. The valid channel is explicit because "no class set" cannot mean void: with
one class, background pixels have no channel set and must still be learned and scored.
"""

from __future__ import annotations

import numpy as np

from models import labels
from models.letterbox import scale_to_fit


def fit_to_input(image: np.ndarray, label_map: np.ndarray,
                 input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Image and labels scaled to fit the input with the aspect kept (models.letterbox), as the
    app scales frames; the padding comes later (augmentation or validation)."""
    height, width = input_size
    return (scale_to_fit(image, height, width),
            scale_to_fit(label_map, height, width, nearest=True))


def targets(label_map: np.ndarray, n_classes: int) -> np.ndarray:
    """(H, W, C + 1) float32: one-hot output channels, then the valid-pixel channel."""
    channels = labels.output_channels(n_classes)
    if channels == 1:  # the sigmoid channel is the class; background is 0 there, yet valid
        onehot = label_map[..., None] == labels.class_label(0, n_classes)
    else:  # label k is channel k
        onehot = label_map[..., None] == np.arange(channels, dtype=label_map.dtype)
    valid = (label_map != labels.VOID)[..., None]
    return np.concatenate([onehot, valid], axis=-1).astype(np.float32)


def split_targets(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(one-hot channels, valid (..., 1)) of a target batch."""
    return y[..., :-1], y[..., -1:]
