"""Compiling the Unet for fit, with every variable of the training step created up front.

Keras creates the optimizer's slots (Adam's m and v) and the compiled loss' and metrics'
accumulators lazily, inside the first trace of the training step. A `tf.function` whose first
trace creates variables is traced a second time, and tracing the step of the mobilenetv2 Unet is
most of a short run's start: on a loaded 2-core machine about 45 s a trace (most of it Adam's
per-variable update ops). Creating them here, in the strategy's scope, keeps it to one trace;
the variables, their initial values and the training are the same.
"""

from __future__ import annotations

from models import labels
from training.framework import tf


def compile_for_training(model, optimizer, loss, metrics, n_classes: int) -> None:
    """`model.compile`, then the variables the first step would create; call it in the
    strategy's scope, as the model was built."""
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    channels = labels.output_channels(n_classes)
    # Only the structure counts here (one output, y_true with its valid channel), not the size.
    y_pred = tf.zeros((1, 1, 1, channels))
    y_true = tf.zeros((1, 1, 1, channels + 1))
    model.optimizer.build(model.trainable_variables)
    model.compiled_loss.build(y_pred)
    model.compiled_metrics.build(y_pred, y_true)
