"""Training configuration: YAML read with safe_load, validated into typed objects.

An unknown key or a bad value raises ConfigError naming the key and the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models import labels
from models.letterbox import STRIDE, round_up
from models.settings_file import ConfigError as ConfigError  # re-exported: callers catch it here
from models.settings_file import apply_overrides, read_mapping, validate

DEFAULT_DECODER_FILTERS = (256, 128, 64, 32, 16)  # segmentation_models' Unet default
DEFAULT_INPUT_SIZE = (384, 480)  # CamVid's 360x480 fitted: the converter's default input too
HELDOUT = "heldout"
IMAGENET = "imagenet"  # model.encoder_weights: Keras' own ImageNet weights file  # the split name of the groups data.val_groups holds out of train_split


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _stride_size(value: tuple[int, int] | None, what: str) -> tuple[int, int] | None:
    if value is None:
        return None
    height, width = value
    if height <= 0 or width <= 0 or height % STRIDE or width % STRIDE:
        raise ValueError(f"{what} {height}x{width}: height and width must be positive multiples "
                         f"of {STRIDE}, e.g. {round_up(max(height, 1))}x{round_up(max(width, 1))}")
    return value


RGB = tuple[int, int, int]


class DataConfig(_Strict):
    dataset: Literal["camvid", "voc", "folder"] = Field(
        description="data set layout: camvid (SegNet's CamVid folders), voc (VOCdevkit layout: "
        "JPEGImages/, SegmentationClass/, ImageSets/Segmentation/<split>.txt; VOC classes by "
        "name, or your own classes with values or colors) or folder (images_dir/ and masks_dir/ "
        "with matching file names)")
    root: str = Field(description="data set root folder (relative to the config file or absolute)")
    classes: list[str] = Field(
        min_length=1, max_length=labels.MAX_CLASSES,
        description="class names to learn, in output order; every other pixel is background "
        "(never list background itself); one class gives one sigmoid output")
    train_split: str = Field(
        "train", description="training images: a split name (camvid: the <root>/<name>/ "
        "folder; voc: ImageSets/Segmentation/<name>.txt; folder: <root>/<name>.txt, one image "
        "name per line, all images when the default file is absent) or a .txt file relative "
        "to root")
    val_split: str = Field("val", description="validation images, named as train_split")
    val_groups: list[str] | None = Field(
        None, min_length=1, description="validate on these groups (e.g. CamVid drives 0001TP, "
        "0006R0, 0016E5) taken out of train_split, instead of val_split; evaluate them with "
        f"--split {HELDOUT}")
    group_by: Literal["prefix"] = Field(
        "prefix", description="how images form groups: prefix = the file name up to "
        "group_separator")
    group_separator: str = Field("_", min_length=1, description="ends a file name's group prefix")
    groups_file: str | None = Field(
        None, description="a text file (relative to root) of lines 'name group' giving each "
        "image's group instead of its prefix; images it does not list are in no group")
    year: str | None = Field(
        None, description="voc: the VOC<year> folder under root or root/VOCdevkit (any name "
        "works: 2012, 2007, or a folder name); default: root itself when it holds JPEGImages/, "
        "else the one VOC folder found (VOC2012 when there are several)")
    images_dir: str | None = Field(
        None, description="folder: images folder under root (default images); voc: default "
        "JPEGImages")
    masks_dir: str | None = Field(
        None, description="folder: masks folder under root (default masks); voc: default "
        "SegmentationClass. Masks are PNGs named like their image")
    values: list[int] | None = Field(
        None, description="folder/voc: the mask value of each class, in classes order (folder "
        "default 1, 2, ...; voc default the VOC class ids); other values are background")
    colors: list[RGB] | None = Field(
        None, description="folder/voc: the [r, g, b] of each class in colour masks, in classes "
        "order (instead of values); also the classes' display colours unless palette says")
    void_value: int | None = Field(
        None, ge=0, le=255, description="folder/voc: mask value to ignore in training and "
        "scoring (voc default 255, folder default none); padding is always ignored")
    palette: dict[str, RGB] | None = Field(
        None, description="display colours in the converted bundle: {class or background: "
        "[r, g, b]}; default: colors, else CamVid/VOC colours by name, else distinct VOC "
        "palette colours (background black, hidden in the app's overlay by default)")
    input_size: tuple[int, int] = Field(
        DEFAULT_INPUT_SIZE, description="model input [height, width], multiples of 32: every "
        "image is scaled to fit it with its aspect kept (as the app letterboxes frames), "
        "validated and evaluated padded to it, and the bundle is converted at it")
    cache: bool = Field(True, description="keep decoded samples (at input_size) in memory "
                                          "after the first read")
    check_samples: int = Field(
        64, ge=0, description="masks read before training to check that every class value "
        "occurs (0 skips); every image/mask size pair is checked from the file headers")

    @field_validator("input_size")
    @classmethod
    def _input_stride(cls, value: tuple[int, int]) -> tuple[int, int]:
        return _stride_size(value, "input size")


class ModelConfig(_Strict):
    backbone: str = Field("mobilenetv2", description="encoder, a segmentation_models backbone")
    encoder_weights: str | None = Field(
        "imagenet", description="imagenet (Keras' ImageNet weights: ~/.keras/models/, else "
        "downloaded there once), a path to such a weights file (.h5, relative to the config "
        "file: for a board or a machine without internet) or null to train from scratch")
    encoder_freeze: bool = Field(False, description="keep the encoder's weights fixed")
    decoder_filters: tuple[int, int, int, int, int] = Field(
        DEFAULT_DECODER_FILTERS, description="the five decoder blocks' widths (smaller: faster)")
    activation: Literal["softmax", "sigmoid"] | None = Field(
        None, description="final activation; default softmax for several classes, sigmoid "
        "for one")
    bn_momentum: float | None = Field(
        0.9, gt=0, lt=1, description="BatchNorm moving-average momentum for every layer: "
        "inference (evaluation, the bundle, the app) normalises with these moving statistics, "
        "in which momentum^steps of the initial ones remain. 0.9 (PyTorch's default): 0.5 % "
        "after 50 steps, so a short first run predicts its classes; null keeps the layers' own "
        "(MobileNetV2's 0.999: 95 % after 50 steps; a 3-epoch run on one's own data predicted "
        "background only)")
    init_weights: str | None = Field(
        None, description="start from these weights (a run's checkpoints/epoch_NNN.weights.h5 "
        "with the same model and classes; relative to the config file) instead of random ones")

    def final_activation(self, n_classes: int) -> str:
        return labels.final_activation(n_classes, self.activation)


class _CropChecked(_Strict):
    """A `crop` that must be a multiple of the stride (augmentation and its phases)."""

    @field_validator("crop", check_fields=False)
    @classmethod
    def _crop_stride(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        return _stride_size(value, "crop")


class AugmentConfig(_CropChecked):
    crop: tuple[int, int] | None = Field(
        (320, 320), description="random crop [height, width], multiples of 32, taken from the "
        "image fitted to data.input_size; null trains on whole images padded to input_size")
    scale: tuple[float, float] = Field((0.75, 1.25), description="random zoom range")
    rotate: float = Field(10.0, description="max rotation in degrees")
    flip: bool = Field(True, description="random horizontal flips")
    color_jitter: float = Field(0.2, description="brightness/contrast/saturation strength")
    photometric: float = Field(
        1.0, ge=0.0, le=1.0, description="strength (0 off, 1 strong) of the light and weather "
        "changes: brightness/contrast, gamma, hue/saturation, blur and sensor noise, for "
        "cameras and streets whose light differs from the training images' (1 lifted mIoU on "
        "an unseen CamVid drive from 14.8 to 27.6 with the dice+crossentropy loss)")


class PhaseConfig(_CropChecked):
    """Switches augmentation from a given epoch on (e.g. full-size crops for the last epochs)."""

    from_epoch: int = Field(ge=1, description="first epoch of the phase, counted from 1 as logged")
    crop: tuple[int, int] | None = Field(None, description="the crop from then on (null: whole "
                                                           "images)")



class TrainConfig(_Strict):
    epochs: int = Field(40, ge=1, description="epochs to train")
    batch_size: int = Field(8, ge=1, description="images per step (training and validation)")
    learning_rate: float = Field(1e-3, gt=0, description="Adam's (peak) learning rate")
    lr_schedule: Literal["constant", "cosine"] = Field(
        "cosine", description="cosine decays to min_learning_rate over the run")
    min_learning_rate: float = Field(1e-5, description="the cosine schedule's end")
    loss: Literal["dice", "focal", "dice+focal", "crossentropy", "dice+crossentropy"] = Field(
        "dice+crossentropy", description="void pixels never count; one class uses the binary "
        "forms; class_weights weigh Dice and cross-entropy (class-balanced), not focal")
    class_weights: list[float] | Literal["auto"] | None = Field(
        "auto", description="one weight per output channel (classes, then background with "
        "several classes), auto (median-frequency balancing over the training masks) or null "
        "(all 1)")
    class_weight_power: float = Field(
        0.5, ge=0, le=1, description="auto's weights are raised to this power: 1 is SegNet's "
        "median-frequency balancing, 0.5 (the default: 2.5 points more mIoU on a held-out "
        "CamVid drive than 1) softens it so frequent classes such as road and building keep "
        "more weight, 0 weighs all classes alike")
    workers: int = Field(2, ge=1, description="threads reading and augmenting samples")
    augment: AugmentConfig = Field(AugmentConfig(), description="training augmentation")
    phases: list[PhaseConfig] = Field([], description="augmentation changes from an epoch on")
    seed: int = Field(42, description="random seed (weights, shuffling, augmentation)")
    distribute: Literal["none", "mirrored", "multi_worker"] = Field(
        "none", description="none: one device; mirrored: every GPU of this machine "
        "(tf.distribute.MirroredStrategy; the CPU when there is no GPU); multi_worker: every "
        "worker TF_CONFIG lists (MultiWorkerMirroredStrategy; see the README). batch_size is "
        "the global batch, split evenly over the replicas (a multiple of their number), and "
        "learning_rate is used as written: the rule is to scale it with the global batch "
        "(linear scaling: 4 GPUs at the same 8 images each are batch_size 32 and 4x the "
        "learning_rate and min_learning_rate)")
    collective_timeout_s: float | None = Field(
        600.0, gt=0, description="multi_worker: a collective (the gradients' all-reduce, the "
        "per-batch stop check, a save) that waits longer than this for the other workers "
        "fails the run with one line (a worker that is alive but stuck); a worker that dies "
        "is noticed sooner, in about 10 s, by TensorFlow's coordination service heartbeats. "
        "null: wait forever")
    mixed_precision: bool | Literal["force"] = Field(
        False, description="Keras mixed_float16 on GPUs: float16 compute, float32 weights, the "
        "output layer in float32 and the loss scaled (LossScaleOptimizer). Refused on a "
        "machine without a GPU (slower there, not faster) unless force")

    @model_validator(mode="after")
    def _power_needs_auto(self) -> TrainConfig:
        # the default itself passes: a run's resolved config.yaml writes it out for every config,
        # and reading that back (--resume, evaluate, convert) must not fail
        default = type(self).model_fields["class_weight_power"].default
        if self.class_weight_power != default and self.class_weights != "auto":
            raise ValueError(f"class_weight_power: {self.class_weight_power:g} applies only to "
                             f"class_weights: auto (here {self.class_weights or 'null'})")
        return self


class Config(_Strict):
    name: str = Field("unet", description="run name: the run folder is runs/<name>")
    data: DataConfig = Field(description="what to learn from")
    model: ModelConfig = Field(ModelConfig(), description="the Unet")
    train: TrainConfig = Field(TrainConfig(), description="how to train")

    @model_validator(mode="after")
    def _palette_names(self) -> Config:
        unknown = [name for name in self.data.palette or {} if name not in self.label_names]
        if unknown:
            raise ValueError(f"data.palette: {unknown[0]!r} is not a label of this model "
                             f"({', '.join(self.label_names)})")
        return self

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
    weights = config.model.encoder_weights
    if weights not in (None, IMAGENET):
        config.model.encoder_weights = _beside(path, weights)
        if not Path(config.model.encoder_weights).is_file():
            raise ConfigError(f"{path}: model.encoder_weights: no such file "
                              f"{config.model.encoder_weights} (imagenet, null or a weights "
                              f"file's path)")
    return config


def _beside(config_path: Path, value: str) -> str:
    """A path from the config: absolute as written, else relative to the config file."""
    target = Path(value).expanduser()
    return str(target if target.is_absolute() else (config_path.parent / target).resolve())


def dump_config(config: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
