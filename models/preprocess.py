"""Each backbone's input normalisation, as an affine map the exported graph can bake in.

segmentation_models' `get_preprocessing(backbone)` is numpy code taken from keras_applications,
classification_models and efficientnet. Every one of them is one of four modes on float RGB 0..255:
  identity  x                             ResNets, SE-ResNet18/34, ResNeXts
  tf        x / 127.5 - 1                 MobileNets, Inception
  torch     (x / 255 - mean) / std (RGB)  EfficientNets, DenseNets, larger SE-Nets
  caffe     x[..., ::-1] - mean (BGR)     VGGs
so the graph does: pick the channel order, multiply by `scale`, add `offset`.
"""

from __future__ import annotations

from dataclasses import dataclass

_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

_MODES: dict[str, tuple[str, ...]] = {
    "identity": ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "seresnet18",
                 "seresnet34", "resnext50", "resnext101"),
    "tf": ("mobilenet", "mobilenetv2", "inceptionv3", "inceptionresnetv2"),
    "torch": ("seresnet50", "seresnet101", "seresnet152", "seresnext50", "seresnext101",
              "senet154", "densenet121", "densenet169", "densenet201",
              *(f"efficientnetb{i}" for i in range(8))),
    "caffe": ("vgg16", "vgg19"),
}


@dataclass(frozen=True)
class Preprocess:
    """y = x[order] * scale + offset, per channel, on float pixels 0..255."""

    mode: str
    order: str  # channel order the backbone wants: "RGB" or "BGR"
    scale: tuple[float, float, float]
    offset: tuple[float, float, float]


def preprocess_mode(backbone: str) -> str:
    """identity | tf | torch | caffe for a segmentation_models backbone name."""
    for mode, names in _MODES.items():
        if backbone in names:
            return mode
    raise ValueError(f"unknown backbone {backbone!r} (known: {', '.join(known_backbones())})")


def known_backbones() -> list[str]:
    return [name for names in _MODES.values() for name in names]


def backbone_preprocess(backbone: str) -> Preprocess:
    return preprocess_for_mode(preprocess_mode(backbone))


def preprocess_for_mode(mode: str) -> Preprocess:
    if mode not in _MODES:
        raise ValueError(f"unknown preprocessing mode {mode!r} (known: {', '.join(_MODES)})")
    if mode == "identity":
        return Preprocess(mode, "RGB", (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    if mode == "tf":
        return Preprocess(mode, "RGB", (1 / 127.5,) * 3, (-1.0,) * 3)
    if mode == "torch":
        scale = tuple(1 / (255.0 * s) for s in _TORCH_STD)
        offset = tuple(-m / s for m, s in zip(_TORCH_MEAN, _TORCH_STD, strict=True))
        return Preprocess(mode, "RGB", scale, offset)  # type: ignore[arg-type]
    return Preprocess(mode, "BGR", (1.0, 1.0, 1.0), tuple(-m for m in _CAFFE_MEAN_BGR))  # type: ignore[arg-type]
