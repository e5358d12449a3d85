"""Building the Unet from config (full saved models load with models.keras_model)."""

from __future__ import annotations

from models.errors import first_line
from training.config import Config
from training.framework import keras, sm


class ModelError(RuntimeError):
    """A model that cannot be built or loaded for a reason the user can fix; one line."""


def build_unet(config: Config, input_shape: tuple[int | None, int | None, int] = (None, None, 3)):
    """`sm.Unet` with the config's backbone, classes, activation, weights and decoder."""
    settings = config.model
    try:
        model = sm.Unet(
            settings.backbone,
            input_shape=input_shape,
            classes=config.n_outputs,
            activation=settings.final_activation(config.n_outputs),
            encoder_weights=settings.encoder_weights,
            encoder_freeze=settings.encoder_freeze,
            decoder_filters=tuple(settings.decoder_filters),
        )
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
            raise ModelError(
                f"model.encoder_weights: cannot download the ImageNet weights for "
                f"{settings.backbone} ({message[:80]}); place the weights file in "
                f"~/.keras/models/ or set encoder_weights: null to train from scratch"
            ) from None
        raise
    if settings.bn_momentum is not None:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = settings.bn_momentum
    return model


def preprocessing(backbone: str):
    """The backbone's input normalisation (float32 RGB 0..255 in), as segmentation_models has it."""
    return sm.get_preprocessing(backbone)
