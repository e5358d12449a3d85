"""Training configuration: YAML read with safe_load, validated into typed objects.

An unknown key or a bad value raises ConfigError naming the key and the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from models import labels
from models.settings_file import ConfigError as ConfigError  # re-exported: callers catch it here
from models.settings_file import apply_overrides, read_mapping, validate

DEFAULT_DECODER_FILTERS = (256, 128, 64, 32, 16)  # segmentation_models' Unet default


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    dataset: Literal["camvid", "voc", "folder"] = Field(description="which data set reader")
    root: str = Field(description="data set root folder (relative to the config file or absolute)")
    classes: list[str] = Field(min_length=1, description="class names to learn, in output order")
    train_split: str = "train"
    val_split: str = "val"
    year: str = Field("2012", description="VOC only")
    images_dir: str | None = Field(None, description="folder only: images folder under root")
    masks_dir: str | None = Field(None, description="folder only: masks folder under root")
    values: list[int] | None = Field(None, description="folder only: mask index per class")
    colors: list[tuple[int, int, int]] | None = Field(None, description="folder only: RGB per class")
    void_value: int | None = Field(None, description="folder only: mask index to ignore")
    cache: bool = Field(True, description="keep decoded samples in memory after the first read")


class ModelConfig(_Strict):
    backbone: str = "mobilenetv2"
    encoder_weights: Literal["imagenet"] | None = "imagenet"
    encoder_freeze: bool = False
    decoder_filters: tuple[int, int, int, int, int] = DEFAULT_DECODER_FILTERS
    activation: Literal["softmax", "sigmoid"] | None = None  # None: softmax if >1 class
    bn_momentum: float | None = Field(
        None, gt=0, lt=1, description="BatchNorm moving-average momentum for every layer; "
        "0.99 suits training from scratch (MobileNetV2's 0.999 lags ~1000 steps behind)")
    init_weights: str | None = Field(
        None, description="start from these weights (a run's checkpoints/epoch_NNN.weights.h5 "
        "with the same model and classes; relative to the config file) instead of random ones")

    def final_activation(self, n_classes: int) -> str:
        return labels.final_activation(n_classes, self.activation)


class AugmentConfig(_Strict):
    crop: tuple[int, int] | None = Field((320, 320), description="random crop HxW, multiples of 32")
    scale: tuple[float, float] = Field((0.75, 1.25), description="random zoom range")
    rotate: float = Field(10.0, description="max rotation in degrees")
    flip: bool = True
    color_jitter: float = Field(0.2, description="brightness/contrast/saturation strength")


class PhaseConfig(_Strict):
    """Switches augmentation from a given epoch on (e.g. full-size crops for the last epochs)."""

    from_epoch: int = Field(ge=1, description="first epoch of the phase, counted from 1 as logged")
    crop: tuple[int, int] | None = None


class TrainConfig(_Strict):
    epochs: int = Field(40, ge=1)
    batch_size: int = Field(8, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    lr_schedule: Literal["constant", "cosine"] = "cosine"
    min_learning_rate: float = 1e-5
    loss: Literal["dice", "focal", "dice+focal", "crossentropy"] = "dice+focal"
    class_weights: list[float] | Literal["auto"] | None = None
    workers: int = Field(2, ge=1, description="threads reading and augmenting samples")
    augment: AugmentConfig = AugmentConfig()
    phases: list[PhaseConfig] = []
    seed: int = 42


class Config(_Strict):
    name: str = "unet"
    data: DataConfig
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()

    @field_validator("name")
    @classmethod
    def _simple_name(cls, value: str) -> str:
        if not value or "/" in value:
            raise ValueError("must be a non-empty name without '/'")
        return value

    @property
    def n_outputs(self) -> int:
        """Output channels (models.labels: the classes, plus background when there are several)."""
        return labels.output_channels(len(self.data.classes))

    @property
    def output_classes(self) -> list[str]:
        """Names of the output channels (one class: just the class, its sigmoid)."""
        return labels.channel_names(self.data.classes)

    @property
    def label_names(self) -> list[str]:
        """Names by label value, as a converted bundle lists them (one class: background, c)."""
        return labels.label_names(self.data.classes)


def load_config(path: str | Path, overrides: dict | None = None) -> Config:
    """Read and validate a training config; relative data roots resolve against the file."""
    path = Path(path)
    raw = read_mapping(path)
    apply_overrides(raw, overrides, str(path))
    config = validate(Config, raw, str(path))
    config.data.root = _beside(path, config.data.root)
    if config.model.init_weights:
        config.model.init_weights = _beside(path, config.model.init_weights)
    return config


def _beside(config_path: Path, value: str) -> str:
    """A path from the config: absolute as written, else relative to the config file."""
    target = Path(value).expanduser()
    return str(target if target.is_absolute() else (config_path.parent / target).resolve())


def dump_config(config: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
