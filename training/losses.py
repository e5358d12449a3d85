"""Losses and metrics from config, on targets that carry their valid-pixel channel.

A target is the one-hot output channels plus a last channel that is 1 where the pixel counts
(training.targets). segmentation_models' Dice/IoU count predictions on every pixel; multiplying
both truth and prediction by the valid channel first keeps void and padding out of the loss and
the metrics, while with one sigmoid class the background pixels still count (as true negatives
the model must learn). One class uses the binary focal and cross-entropy forms: the categorical
ones only see pixels whose channel is set, so background would teach nothing.
"""

from __future__ import annotations

from models import labels
from training.config import TrainConfig
from training.framework import keras, sm, tf


def _split(y):
    return y[..., :-1], y[..., -1:]


def _masked(fn, name: str, offset: float = 0.0, truth_only: bool = False):
    """`fn` on the valid pixels. `truth_only` masks the truth alone: categorical cross-entropy
    sums truth * log(prediction) (a zero truth row adds nothing) and renormalises the prediction,
    which a zeroed row would turn into 0/0."""
    def wrapped(y, pr):
        gt, valid = _split(y)
        return fn(gt * valid, pr if truth_only else pr * valid) + offset

    wrapped.__name__ = name
    return wrapped


def _sum(first, second, name: str):
    def wrapped(y, pr):
        return first(y, pr) + second(y, pr)

    wrapped.__name__ = name
    return wrapped


def build_loss(config: TrainConfig, class_weights: list[float] | None, n_classes: int = 2):
    weights = None if class_weights is None else list(map(float, class_weights))
    binary = labels.output_channels(n_classes) == 1
    dice = sm.losses.DiceLoss(class_weights=weights)
    # segmentation_models' weighted Dice is 1 - mean(w * score), below 0 once the weights average
    # above 1 (median-frequency weights do); adding mean(w) - 1 makes it mean(w * (1 - score)) >= 0
    # with the same gradients, so a logged loss of 0 means perfect again.
    offset = 0.0 if weights is None else sum(weights) / len(weights) - 1.0
    focal = sm.losses.BinaryFocalLoss() if binary else sm.losses.CategoricalFocalLoss()
    if config.loss == "dice":
        return _masked(dice, "dice_loss", offset)
    if config.loss == "focal":
        return _masked(focal, "focal_loss")
    # Weighted (class-balanced) cross-entropy: each thin-class pixel weighs more, where Dice
    # only weighs each class's overlap as a whole.
    cce = sm.losses.BinaryCELoss() if binary else sm.losses.CategoricalCELoss(class_weights=weights)
    cce_loss = _masked(cce, "crossentropy_loss", truth_only=not binary)
    if config.loss == "crossentropy":
        return cce_loss
    if config.loss == "dice+crossentropy":
        return _sum(_masked(dice, "dice_loss", offset), cce_loss, "dice_crossentropy_loss")
    return _masked(dice + focal, "dice_focal_loss", offset)


def _labels(onehot, binary: bool):
    """Label values by the label rule: argmax, or the one channel above the threshold."""
    if binary:
        return tf.cast(onehot[..., 0] > labels.SIGMOID_THRESHOLD, tf.int32)
    return tf.argmax(onehot, axis=-1, output_type=tf.int32)


class ConfusionMIoU(keras.metrics.Metric):
    """mIoU from one confusion matrix over every batch of the epoch, background a label like
    any other and void left out: what `python -m training evaluate` reports for a split."""

    def __init__(self, n_classes: int, name: str = "miou", **kwargs):
        super().__init__(name=name, **kwargs)
        self.n_classes = n_classes
        self.n_labels = labels.label_count(n_classes)
        self.binary = labels.output_channels(n_classes) == 1
        self.matrix = self.add_weight("matrix", shape=(self.n_labels, self.n_labels),
                                      initializer="zeros", dtype=tf.float64)

    def update_state(self, y_true, y_pred, sample_weight=None):
        gt, valid = _split(y_true)
        truth = tf.reshape(_labels(gt, self.binary), [-1])
        prediction = tf.reshape(_labels(y_pred, self.binary), [-1])
        weights = tf.reshape(tf.cast(valid, tf.float64), [-1])
        self.matrix.assign_add(tf.math.confusion_matrix(
            truth, prediction, num_classes=self.n_labels, weights=weights, dtype=tf.float64))

    def result(self):
        tp = tf.linalg.diag_part(self.matrix)
        truth = tf.reduce_sum(self.matrix, axis=1)
        union = truth + tf.reduce_sum(self.matrix, axis=0) - tp
        occurs = tf.cast(truth > 0, tf.float64)  # the mean runs over classes in the truth
        iou = tf.math.divide_no_nan(tp, union)
        return tf.math.divide_no_nan(tf.reduce_sum(iou * occurs), tf.reduce_sum(occurs))

    def reset_state(self):
        self.matrix.assign(tf.zeros_like(self.matrix))

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes}


def build_metrics(n_classes: int = 2):
    return [
        ConfusionMIoU(n_classes),
        _masked(sm.metrics.IOUScore(threshold=0.5), "iou_score"),
        _masked(sm.metrics.FScore(threshold=0.5), "f1_score"),
    ]
