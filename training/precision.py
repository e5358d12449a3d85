"""train.mixed_precision: Keras' mixed_float16 policy, its float32 output layer and scaled loss.

Under mixed_float16 layers compute in float16 and keep float32 weights. The last layer (the
softmax or sigmoid) is rebuilt in float32, so probabilities near 0 and 1 and the loss computed
from them keep their precision, and the optimizer is a LossScaleOptimizer, so small float16
gradients do not flush to zero. Weights files hold float32 values either way; `model.h5` is
written from a float32 copy, so conversion and evaluation never see the policy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from training.config import Config, ConfigError
from training.framework import keras, tf
from training.model import build_unet

log = logging.getLogger(__name__)
POLICY = "mixed_float16"


def wants_mixed_precision(setting: bool | str, gpus: int | None = None) -> bool:
    """True to train under mixed_float16; ConfigError for `true` on a machine without a GPU."""
    if setting is False:
        return False
    if setting == "force":
        return True
    if gpus is None:
        gpus = len(tf.config.list_physical_devices("GPU"))
    if gpus == 0:
        raise ConfigError("train.mixed_precision: true needs a GPU and TensorFlow sees none here "
                          "(float16 on a CPU is slower, not faster); set it to false, or to "
                          "force to train so anyway")
    return True


@contextmanager
def precision_policy(mixed: bool) -> Iterator[None]:
    """The global Keras policy for building and training the model; the previous one after."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(POLICY if mixed else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def float32_output(model):
    """The model with its last layer (the final activation) computing in float32."""
    last = model.layers[-1]
    if last.compute_dtype == "float32":
        return model
    if not isinstance(last, keras.layers.Activation):
        raise TypeError(f"expected the model to end in an Activation layer, not {last.name}")
    output = keras.layers.Activation(last.activation, dtype="float32", name=last.name)(last.input)
    return keras.Model(model.inputs, output, name=model.name)


def build_model(config: Config, mixed: bool):
    """The Unet, under the current policy; with `mixed`, its output layer in float32."""
    model = build_unet(config)
    return float32_output(model) if mixed else model


def optimizer_for(optimizer, mixed: bool):
    return keras.mixed_precision.LossScaleOptimizer(optimizer) if mixed else optimizer


def float32_copy(config: Config, model):
    """A float32 model with the weights of `model` (for model.h5 after a mixed run)."""
    with precision_policy(False):
        copy = build_unet(config)
    copy.set_weights(model.get_weights())
    return copy
