"""The label rule: what a model trained on N classes outputs and what its labels mean.

- Several classes (N > 1): N + 1 softmax channels, the classes in order then a trailing
  background; label k is channel k (argmax), so labels 0..N-1 are the classes and N background.
- One class: one sigmoid channel (the class against everything else); labels are 0 background
  and 1 the class (probability > 0.5).

A bundle's `classes` list names the labels by value (`label_names`), so the renderer indexes its
palette with a label directly. Training data sets one-hot encode into the output channels
(`channel_names`). Everything that needs the rule calls this module; the exported graph does the
same in TensorFlow with `SIGMOID_THRESHOLD`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BACKGROUND = "background"
SIGMOID_THRESHOLD = 0.5  # one sigmoid channel: the class where its probability is above this
VOID = 255  # in a label map: a pixel no loss or score counts (a data set's void, padding)
MAX_CLASSES = 254  # labels 0..N (classes and background) stay clear of VOID


def has_background_channel(n_classes: int) -> bool:
    """Several classes get a trailing background channel; one class is its own sigmoid."""
    return n_classes > 1


def output_channels(n_classes: int) -> int:
    """Output channels of a Unet trained on `n_classes` classes."""
    return n_classes + 1 if has_background_channel(n_classes) else 1


def classes_for_channels(channels: int) -> int:
    """The class count behind a model's output channels (the inverse of `output_channels`)."""
    return channels - 1 if channels > 1 else 1


def final_activation(n_classes: int, activation: str | None = None) -> str:
    """The configured activation, else softmax over several channels and sigmoid for one."""
    return activation or ("softmax" if output_channels(n_classes) > 1 else "sigmoid")


def channel_names(classes: Sequence[str]) -> list[str]:
    """Names of the output (and one-hot) channels, in order."""
    classes = list(classes)
    return [*classes, BACKGROUND] if has_background_channel(len(classes)) else classes


def label_names(classes: Sequence[str]) -> list[str]:
    """Names by label value (a bundle's `classes`): the channels, or background, c for one."""
    classes = list(classes)
    if has_background_channel(len(classes)):
        return channel_names(classes)
    return [BACKGROUND, *classes]


def label_count(n_classes: int) -> int:
    """Label values a model on `n_classes` classes gives: the classes and background."""
    return n_classes + 1


def class_label(k: int, n_classes: int) -> int:
    """The label value of class `k` (0-based, in config order)."""
    return k if has_background_channel(n_classes) else k + 1


def background_label(n_classes: int) -> int:
    """The label value of background: last with several classes, 0 with one."""
    return n_classes if has_background_channel(n_classes) else 0


def trained_classes(names: Sequence[str]) -> list[str]:
    """The classes a model was trained on, from its label names (the inverse of label_names)."""
    return [name for name in names if name != BACKGROUND]


def labels_fit_channels(n_labels: int, channels: int) -> bool:
    """Whether `n_labels` label names suit a graph computing `channels` channels."""
    return channels == n_labels or (channels == 1 and n_labels == 2)


def labels_from_probabilities(out: np.ndarray) -> np.ndarray:
    """A batch of (N, H, W) labels as it is; (N, H, W, C) probabilities through the rule."""
    if out.ndim == 3:
        return out.astype(np.uint8, copy=False)
    if out.shape[-1] == 1:
        return (out[..., 0] > SIGMOID_THRESHOLD).astype(np.uint8)
    return np.argmax(out, axis=-1).astype(np.uint8)
