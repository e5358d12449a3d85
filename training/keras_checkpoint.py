"""The fp32 Keras model a Checkpoint describes (needs TensorFlow and segmentation_models).

A weights-only checkpoint is loaded into the Unet rebuilt from the training config; a full saved
model is loaded as it is. Either way the result is checked against the config's class count.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from models.errors import first_line
from models.labels import classes_for_channels
from models.preprocess import preprocess_mode
from training.checkpoint import Checkpoint, CheckpointError
from training.framework import keras
from training.model import unet

log = logging.getLogger(__name__)


def load_keras_model(checkpoint: Checkpoint) -> keras.Model:
    model = _load_full(checkpoint) if checkpoint.kind == "model" else _rebuild(checkpoint)
    channels = model.output_shape[-1]
    if checkpoint.classes is not None and channels != checkpoint.n_outputs:
        raise CheckpointError(
            f"{checkpoint.checkpoint}: the model has {channels} output channels but "
            f"{checkpoint.config} data.classes gives {checkpoint.n_outputs}"
        )
    return model


def _rebuild(checkpoint: Checkpoint) -> keras.Model:
    assert checkpoint.backbone is not None and checkpoint.classes is not None
    # encoder_weights None: the checkpoint has every weight; never download
    model = unet(checkpoint.backbone, len(checkpoint.classes), checkpoint.activation,
                 decoder_filters=checkpoint.decoder_filters)
    try:
        status = model.load_weights(str(checkpoint.checkpoint))
        if status is not None:  # TF-format checkpoints load lazily; make a mismatch loud
            status.assert_existing_objects_matched()
    except (ValueError, OSError, AssertionError) as error:
        raise CheckpointError(
            f"{checkpoint.checkpoint}: weights do not fit the {checkpoint.backbone} Unet built "
            f"from {checkpoint.config} ({first_line(error)[:160]})"
        ) from None
    return model


def _load_full(checkpoint: Checkpoint) -> keras.Model:
    from training.keras_model import KerasModelError, load_full_model

    try:
        return load_full_model(checkpoint.checkpoint)
    except KerasModelError as error:
        raise CheckpointError(str(error)) from None


def complete_checkpoint(checkpoint: Checkpoint, model: keras.Model) -> Checkpoint:
    """Fill what a full model without a config leaves open: class names and the backbone."""
    if checkpoint.classes is not None:
        return checkpoint
    channels = model.output_shape[-1]
    classes = tuple(f"class_{i}" for i in range(classes_for_channels(channels)))
    backbone = guess_backbone(model)
    if backbone is None:
        raise CheckpointError(
            f"{checkpoint.checkpoint}: cannot tell the backbone (so its preprocessing) from the "
            f"layers; pass --config with model.backbone"
        )
    log.warning("no training config: classes named %s, backbone guessed as %s",
                ", ".join(classes), backbone)
    return replace(checkpoint, classes=classes, backbone=backbone)


def guess_backbone(model: keras.Model) -> str | None:
    """The backbone whose feature layers the model has; ambiguity only matters if preprocessing
    differs (resnet18 and resnet34 share layer names and preprocessing, which is enough)."""
    from segmentation_models.backbones.backbones_factory import Backbones

    names = {layer.name for layer in model.layers}
    candidates = [
        backbone for backbone, layers in Backbones._default_feature_layers.items()
        if all(isinstance(layer, str) and layer in names for layer in layers)
    ]
    modes = {preprocess_mode(c) for c in candidates}
    return candidates[0] if len(modes) == 1 else None
