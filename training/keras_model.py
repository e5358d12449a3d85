"""Saving and loading Keras models where segmentation_models is not installed (e.g. a Jetson):
a full saved model, or the architecture as JSON beside a weights file."""

from __future__ import annotations

import os
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


def save_json(model, path: str | Path) -> Path:
    """The architecture as JSON (model.to_json()), written to a temp file and renamed."""
    path = Path(path)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(model.to_json())
    os.replace(tmp, path)
    return path


def load_json_model(json_path: str | Path, weights_path: str | Path):
    """model_from_json with the custom objects, then the weights (.h5 or a TF checkpoint)."""
    json_path, weights_path = Path(json_path), Path(weights_path)
    for path in (json_path, weights_path):
        if not path.exists() and not Path(f"{path}.index").exists():
            raise KerasModelError(f"{path}: file not found")
    try:
        model = keras.models.model_from_json(json_path.read_text(),
                                             custom_objects=CUSTOM_OBJECTS)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise KerasModelError(f"{json_path}: not a Keras model JSON ({first_line(error)})") \
            from None
    try:
        model.load_weights(str(weights_path))
    except (OSError, ValueError) as error:
        raise KerasModelError(f"{weights_path}: weights do not fit {json_path.name} "
                              f"({first_line(error)})") from None
    return model
