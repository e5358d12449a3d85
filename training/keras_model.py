"""Loading a full saved Keras model where segmentation_models is not installed (e.g. a Jetson)."""

from __future__ import annotations

from pathlib import Path

from models.errors import first_line
from training.tf_env import keras, tf


class KerasModelError(RuntimeError):
    """A model file that cannot be loaded; one line naming it."""


class FixedDropout(keras.layers.Dropout):
    """efficientnet's dropout with a partly fixed noise shape, rebuilt for deserialisation."""

    def _get_noise_shape(self, inputs):
        if self.noise_shape is None:
            return self.noise_shape
        symbolic = tf.shape(inputs)
        return tuple(symbolic[i] if s is None else s for i, s in enumerate(self.noise_shape))


CUSTOM_OBJECTS = {"swish": tf.nn.swish, "FixedDropout": FixedDropout}


def load_full_model(path: str | Path, compile: bool = False):
    """A model saved with model.save(); EfficientNet backbones' custom objects are provided."""
    path = Path(path)
    if not path.exists():
        raise KerasModelError(f"{path}: model file not found")
    try:
        return keras.models.load_model(str(path), custom_objects=CUSTOM_OBJECTS, compile=compile)
    except (OSError, ValueError) as error:
        raise KerasModelError(f"{path}: cannot load model ({first_line(error)})") from None
