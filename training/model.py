"""Building the Unet, the one place that calls `sm.Unet` (full saved models load with
training/keras_model.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from models.errors import first_line
from models.labels import final_activation, output_channels
from training.config import DEFAULT_DECODER_FILTERS, Config
from training.framework import keras, sm


class ModelError(RuntimeError):
    """A model that cannot be built or loaded for a reason the user can fix; one line."""


def unet(
    backbone: str,
    n_classes: int,
    activation: str | None = None,
    encoder_weights: str | None = None,
    encoder_freeze: bool = False,
    decoder_filters: Sequence[int] = DEFAULT_DECODER_FILTERS,
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
):
    """`sm.Unet` for `n_classes` classes: its channels and activation follow models.labels."""
    return sm.Unet(
        backbone,
        input_shape=input_shape,
        classes=output_channels(n_classes),
        activation=final_activation(n_classes, activation),
        encoder_weights=encoder_weights,
        encoder_freeze=encoder_freeze,
        decoder_filters=tuple(decoder_filters),
    )


def build_unet(config: Config, input_shape: tuple[int | None, int | None, int] = (None, None, 3)):
    """The Unet of a training config: backbone, classes, activation, weights and decoder."""
    settings = config.model
    try:
        model = unet(settings.backbone, len(config.data.classes), settings.activation,
                     settings.encoder_weights, settings.encoder_freeze, settings.decoder_filters,
                     input_shape)
    except ValueError as error:
        if "backbone" in str(error).lower() or "not in" in str(error).lower():
            names = ", ".join(sm.get_available_backbone_names())
            raise ModelError(
                f"model.backbone: unknown backbone {settings.backbone!r}; one of {names}"
            ) from None
        raise
    except Exception as error:  # keras' get_file wraps network failures in plain Exception
        message = first_line(error)
        if settings.encoder_weights and ("fetch" in message.lower() or "url" in message.lower()):
            raise ModelError(weights_missing(settings.backbone, message)) from None
        raise
    if settings.bn_momentum is not None:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = settings.bn_momentum
    return model


# The files Keras looks for in ~/.keras/models/ (by name; sizes as Keras publishes them).
KNOWN_WEIGHTS = {"mobilenetv2": ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
                                 9_422_432)}


def weights_missing(backbone: str, message: str) -> str:
    """One line: the exact file Keras wanted, where to put it, or how to name it instead."""
    name, size = KNOWN_WEIGHTS.get(backbone, (None, None))
    if name is None:  # Keras' message carries the URL, whose last part is the file name
        urls = re.findall(r"https?://\S+", message)
        name = urls[0].rstrip(".:,)").rsplit("/", 1)[-1] if urls else None
    wanted = (f"{name} ({size:,} bytes)" if size else name) if name else "its weights file"
    return (f"model.encoder_weights: cannot download the ImageNet weights for {backbone} "
            f"({message[:80]}); place {wanted} in ~/.keras/models/, or set encoder_weights: to "
            f"that file's path, or encoder_weights: null to train from scratch")


def preprocessing(backbone: str):
    """The backbone's input normalisation (float32 RGB 0..255 in), as segmentation_models has it."""
    return sm.get_preprocessing(backbone)
