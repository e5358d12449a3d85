"""Losses and metrics from config, with void pixels (all-zero one-hot rows) ignored.

segmentation_models' Dice/IoU count predictions on every pixel; multiplying the prediction by
the valid-pixel mask first keeps void and padding out of both the loss and the metrics.
"""

from __future__ import annotations

from training.config import TrainConfig
from training.framework import sm, tf


def _valid(gt):
    return tf.cast(tf.reduce_sum(gt, axis=-1, keepdims=True) > 0, gt.dtype)


def _masked(fn, name: str, offset: float = 0.0):
    def wrapped(gt, pr):
        return fn(gt, pr * _valid(gt)) + offset

    wrapped.__name__ = name
    return wrapped


def build_loss(config: TrainConfig, class_weights: list[float] | None):
    weights = None if class_weights is None else list(map(float, class_weights))
    dice = sm.losses.DiceLoss(class_weights=weights)
    # segmentation_models' weighted Dice is 1 - mean(w * score), below 0 once the weights average
    # above 1 (median-frequency weights do); adding mean(w) - 1 makes it mean(w * (1 - score)) >= 0
    # with the same gradients, so a logged loss of 0 means perfect again.
    offset = 0.0 if weights is None else sum(weights) / len(weights) - 1.0
    focal = sm.losses.CategoricalFocalLoss()
    if config.loss == "dice":
        return _masked(dice, "dice_loss", offset)
    if config.loss == "focal":
        return _masked(focal, "focal_loss")
    if config.loss == "crossentropy":
        cce = sm.losses.CategoricalCELoss(class_weights=weights)
        return _masked(cce, "crossentropy_loss")
    return _masked(dice + focal, "dice_focal_loss", offset)


def build_metrics():
    return [
        _masked(sm.metrics.IOUScore(threshold=0.5), "iou_score"),
        _masked(sm.metrics.FScore(threshold=0.5), "f1_score"),
    ]
