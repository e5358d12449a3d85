"""The fp32 Keras model a Source describes (needs TensorFlow and segmentation_models).

A weights-only checkpoint is loaded into `sm.Unet` rebuilt from the training config; a full saved
model is loaded as it is. Either way the result is checked against the config's class count.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from models.errors import first_line
from models.preprocess import preprocess_mode
from models.source import Source, SourceError
from training.framework import keras, sm

log = logging.getLogger(__name__)


def load_keras_model(source: Source) -> keras.Model:
    model = _load_full(source) if source.kind == "model" else _rebuild(source)
    channels = model.output_shape[-1]
    if source.classes is not None and channels != source.n_outputs:
        raise SourceError(
            f"{source.checkpoint}: the model has {channels} output channels but "
            f"{source.config} data.classes gives {source.n_outputs}"
        )
    return model


def _rebuild(source: Source) -> keras.Model:
    assert source.backbone is not None and source.classes is not None
    model = sm.Unet(
        source.backbone,
        input_shape=(None, None, 3),
        classes=source.n_outputs,
        activation=source.final_activation,
        encoder_weights=None,  # the checkpoint has every weight; never download
        decoder_filters=tuple(source.decoder_filters),
    )
    try:
        status = model.load_weights(str(source.checkpoint))
        if status is not None:  # TF-format checkpoints load lazily; make a mismatch loud
            status.assert_existing_objects_matched()
    except (ValueError, OSError, AssertionError) as error:
        raise SourceError(
            f"{source.checkpoint}: weights do not fit the {source.backbone} Unet built from "
            f"{source.config} ({first_line(error)[:160]})"
        ) from None
    return model


def _load_full(source: Source) -> keras.Model:
    from models.keras_model import KerasModelError, load_full_model

    try:
        return load_full_model(source.checkpoint)
    except KerasModelError as error:
        raise SourceError(str(error)) from None


def complete_source(source: Source, model: keras.Model) -> Source:
    """Fill what a full model without a config leaves open: class names and the backbone."""
    if source.classes is not None:
        return source
    channels = model.output_shape[-1]
    classes = tuple(f"class_{i}" for i in range(channels - 1 if channels > 1 else 1))
    backbone = guess_backbone(model)
    if backbone is None:
        raise SourceError(
            f"{source.checkpoint}: cannot tell the backbone (so its preprocessing) from the "
            f"layers; pass --config with model.backbone"
        )
    log.warning("no training config: classes named %s, backbone guessed as %s",
                ", ".join(classes), backbone)
    return replace(source, classes=classes, backbone=backbone)


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
