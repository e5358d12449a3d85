"""What a conversion (or the Keras engine) starts from: a checkpoint, its training config and
the input size.

Everything here is checked before TensorFlow is imported, so a typo costs a second, not a minute.
The training config is read with yaml.safe_load and only the keys the converter needs are looked
at (others are tolerated): model.backbone, model.decoder_filters, model.activation, data.classes,
data.dataset, data.input_size and the top-level name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from models import labels
from models.letterbox import round_up
from models.preprocess import known_backbones
from training.config import DEFAULT_DECODER_FILTERS

DEFAULT_INPUT_SIZE = (384, 480)  # CamVid's 360x480 rounded up to multiples of the stride


class CheckpointError(ValueError):
    """A user mistake in the checkpoint, config or flags; one line naming the file or flag."""


@dataclass(frozen=True)
class Checkpoint:
    checkpoint: Path
    kind: str  # "weights" (rebuild from config, then load_weights) or "model" (full saved model)
    config: Path | None
    backbone: str | None
    decoder_filters: tuple[int, ...]  # () when unknown (a full model without its config)
    activation: str | None  # None: softmax for several outputs, sigmoid for one
    classes: tuple[str, ...] | None  # data.classes, as trained (no background)
    dataset: str | None
    input_size: tuple[int, int] | None  # data.input_size, if the config has one
    name: str | None
    data: dict[str, Any] = field(default_factory=dict)  # how to read the data (no root)

    @property
    def colours(self) -> dict[str, list[int]]:
        """Display colours the config gives by name: data.palette, else a colour mask's
        data.colors (the colour a class is drawn in is the one it was annotated in)."""
        given = self.data.get("palette") or {}
        colors = self.data.get("colors") or []
        by_mask = dict(zip(self.classes or (), colors, strict=False))
        return {**by_mask, **given}

    @property
    def n_outputs(self) -> int:
        """Output channels (models.labels)."""
        assert self.classes is not None
        return labels.output_channels(len(self.classes))

    @property
    def final_activation(self) -> str:
        assert self.classes is not None
        return labels.final_activation(len(self.classes), self.activation)


def parse_input_size(text: str, flag: str = "--input-size") -> tuple[int, int]:
    """'360x480' -> (384, 480): HxW rounded up to multiples of the Unet's stride (32)."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        raise CheckpointError(f"{flag}: expected HxW like 384x480, got {text!r}") from None
    return round_up_size(height, width, flag)


def round_up_size(height: int, width: int, where: str) -> tuple[int, int]:
    if height <= 0 or width <= 0:
        raise CheckpointError(f"{where}: input size must be positive, got {height}x{width}")
    return round_up(height), round_up(width)


def checkpoint_kind(path: Path) -> str:
    """'model' for a full saved model, 'weights' for weights only; CheckpointError if neither."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "model"
        raise CheckpointError(f"{path}: a folder but not a SavedModel (no saved_model.pb)")
    if Path(f"{path}.index").is_file():  # tf.train.Checkpoint / save_weights(TF format) prefix
        return "weights"
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    name = path.name.lower()
    if name.endswith(".keras"):
        return "model"
    if name.endswith((".h5", ".hdf5")):
        if name.endswith(".weights.h5"):
            return "weights"
        return "model" if _h5_has_model_config(path) else "weights"
    raise CheckpointError(f"{path}: not a Keras checkpoint (.keras, .h5, .weights.h5 or SavedModel)")


def _h5_has_model_config(path: Path) -> bool:
    import h5py  # a TensorFlow dependency; only needed for .h5 files

    try:
        with h5py.File(path, "r") as handle:
            return "model_config" in handle.attrs
    except OSError as error:
        raise CheckpointError(f"{path}: not a readable HDF5 file ({error})") from None


def read_checkpoint(checkpoint: str | Path, config: str | Path | None = None) -> Checkpoint:
    """Check the checkpoint and read its config (given, or config.yaml beside the checkpoint)."""
    ckpt = Path(checkpoint).expanduser()
    kind = checkpoint_kind(ckpt)
    config_path = Path(config).expanduser() if config else None
    if config_path is None and (ckpt.parent / "config.yaml").is_file():
        config_path = ckpt.parent / "config.yaml"  # a training run folder keeps it there
    if config_path is None:
        if kind == "weights":
            raise CheckpointError(
                f"{ckpt}: a weights-only checkpoint needs --config (no config.yaml beside it)"
            )
        return Checkpoint(ckpt.resolve(), kind, None, None, (), None, None, None, None, None)
    return _read_config(ckpt.resolve(), kind, config_path)


def _read_config(ckpt: Path, kind: str, path: Path) -> Checkpoint:
    if not path.is_file():
        raise CheckpointError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise CheckpointError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
    where = str(path)
    if not isinstance(raw, dict):
        raise CheckpointError(f"{where}: expected a mapping at the top level")
    model = _section(raw, "model", where)
    data = _section(raw, "data", where)
    backbone = _need(model, "model.backbone", str, where)
    if backbone not in known_backbones():
        raise CheckpointError(f"{where}: model.backbone: unknown backbone {backbone!r}")
    classes = _need(data, "data.classes", list, where)
    if not classes or not all(isinstance(c, str) and c for c in classes):
        raise CheckpointError(f"{where}: data.classes: must be a non-empty list of names")
    filters = model.get("decoder_filters") or DEFAULT_DECODER_FILTERS
    if not isinstance(filters, (list, tuple)) or not all(_is_int(f) and f > 0 for f in filters):
        raise CheckpointError(f"{where}: model.decoder_filters: must be a list of positive integers")
    activation = model.get("activation")
    if activation not in (None, "softmax", "sigmoid"):
        raise CheckpointError(f"{where}: model.activation: must be softmax, sigmoid or null")
    size = data.get("input_size")
    if size is not None:
        if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(map(_is_int, size))):
            raise CheckpointError(f"{where}: data.input_size: must be [height, width]")
        size = round_up_size(size[0], size[1], f"{where}: data.input_size")
    dataset = data.get("dataset")
    name = raw.get("name")
    _check_colours(data, where)
    reading = {k: v for k, v in data.items() if k not in ("root", "classes") and v is not None}
    return Checkpoint(ckpt, kind, path.resolve(), backbone, tuple(filters), activation, tuple(classes),
                  str(dataset) if dataset is not None else None, size,
                  str(name) if name is not None else None, reading)


def _check_colours(data: dict, where: str) -> None:
    def is_rgb(value: Any) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) == 3
                and all(_is_int(c) and 0 <= c <= 255 for c in value))

    palette = data.get("palette")
    if palette is not None and not (isinstance(palette, dict) and all(
            isinstance(k, str) and is_rgb(v) for k, v in palette.items())):
        raise CheckpointError(f"{where}: data.palette: must map names to [r, g, b] (0..255)")
    colors = data.get("colors")
    if colors is not None and not (isinstance(colors, list) and all(map(is_rgb, colors))):
        raise CheckpointError(f"{where}: data.colors: must be a list of [r, g, b] (0..255)")


def _section(raw: dict, key: str, where: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        raise CheckpointError(f"{where}: missing key '{key}'")
    if not isinstance(value, dict):
        raise CheckpointError(f"{where}: {key}: must be a mapping")
    return value


def _need(section: dict, dotted: str, kind: type, where: str) -> Any:
    key = dotted.split(".")[-1]
    if section.get(key) is None:
        raise CheckpointError(f"{where}: missing key '{dotted}'")
    if not isinstance(section[key], kind):
        raise CheckpointError(f"{where}: {dotted}: must be a {kind.__name__}")
    return section[key]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
