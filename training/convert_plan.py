"""What `python -m training convert` checks before TensorFlow is imported: the flags, the
checkpoint and its config, the calibration images and the evaluation split (training/convert.py
runs the conversion itself)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from models.bundle import FORMAT_PRECISION, FORMATS
from models.parity import sample_frames
from training.checkpoint import (
    DEFAULT_INPUT_SIZE,
    Checkpoint,
    parse_input_size,
    read_checkpoint,
)

DEFAULT_FORMATS = ("tflite", "onnx")
INT8_FORMATS = tuple(fmt for fmt, precision in FORMAT_PRECISION.items() if precision == "int8")
DEFAULT_MAX_MIOU_DROP = 1.0  # points of mIoU an int8 file may lose against fp32


class ConvertError(ValueError):
    """A flag or input the user can fix; one line, exit status 2."""


class ParityError(RuntimeError):
    """An fp16 model that disagrees with fp32 too often; one line, exit status 1."""


class AccuracyError(ConvertError):
    """An int8 file that loses more mIoU than allowed; one line, exit status 2."""


@dataclass
class ConvertOptions:
    checkpoint: str
    out: str
    config: str | None = None
    formats: str | tuple[str, ...] = DEFAULT_FORMATS
    input_size: str | None = None  # "HxW"; rounded up to multiples of the stride (32)
    output: str = "labels"
    min_parity: float = 0.995
    samples: str | None = None
    name: str | None = None
    metrics: str | None = None  # JSON/YAML scores from `python -m training evaluate --json`
    calibration: str | None = None  # folder or glob of training images (int8 formats)
    calibration_count: int = 200
    calibration_seed: int = 0
    eval_data: str | None = None  # data set root to score every format and fp32 on
    eval_split: str = "val"
    eval_config: str | None = None  # its data config (default: the checkpoint's, root replaced)
    max_miou_drop: float = DEFAULT_MAX_MIOU_DROP
    allow_miou_drop: bool = False


@dataclass(frozen=True)
class Plan:
    source: Checkpoint
    out: Path
    name: str
    height: int
    width: int
    formats: tuple[str, ...]
    metrics: dict[str, Any] | None
    calibration: Any = None  # training.quantize.CalibrationSet, for int8 formats
    split: Any = None  # training.scoring.Split, with --eval-data


def plan(options: ConvertOptions) -> Plan:
    """Everything checkable before TensorFlow is imported."""
    formats = parse_formats(options.formats)
    if options.output not in ("labels", "probabilities"):
        raise ConvertError(f"--output: must be labels or probabilities, got {options.output!r}")
    if not 0.0 <= options.min_parity <= 1.0:
        raise ConvertError(f"--min-parity: must be a fraction 0..1, got {options.min_parity}")
    source = read_checkpoint(options.checkpoint, options.config)
    if options.input_size:
        height, width = parse_input_size(options.input_size)
    else:
        height, width = source.input_size or DEFAULT_INPUT_SIZE
    out = Path(options.out).expanduser()
    if out.exists() and not out.is_dir():
        raise ConvertError(f"--out: {out} exists and is not a folder")
    if options.samples:
        sample_frames(options.samples, 32, 32, count=1)  # fail now, not after a minute of export
    metrics = _read_metrics(Path(options.metrics)) if options.metrics else None
    calibration = _plan_int8(options, formats)
    split = _open_eval_split(options, source) if options.eval_data else None
    return Plan(source, out, options.name or out.resolve().name, height, width, formats, metrics,
                calibration, split)


def _plan_int8(options: ConvertOptions, formats: tuple[str, ...]):
    if options.max_miou_drop < 0:
        raise ConvertError(f"--max-miou-drop: must be 0 or more points, got {options.max_miou_drop}")
    int8 = [fmt for fmt in formats if fmt in INT8_FORMATS]
    if not int8:
        return None
    from training.quantize import CalibrationError, calibration_set

    if options.output != "labels":
        raise ConvertError(f"--formats {int8[0]}: int8 files give labels only (not --output "
                           f"{options.output})")
    if not options.calibration:
        raise ConvertError(f"--formats {int8[0]}: give --calibration GLOB (training images the "
                           f"int8 ranges are measured on)")
    if not options.eval_data and not options.allow_miou_drop:
        raise ConvertError(f"--formats {int8[0]}: give --eval-data ROOT (the split its mIoU "
                           f"drop is measured on) or --allow-miou-drop")
    try:
        return calibration_set(options.calibration, options.calibration_count,
                               options.calibration_seed)
    except CalibrationError as error:
        raise ConvertError(str(error)) from None


def _open_eval_split(options: ConvertOptions, source: Checkpoint):
    """The labelled split every format is scored on; fails now, not after the export."""
    from training.scoring import open_split

    if not Path(options.eval_data).expanduser().is_dir():
        raise ConvertError(f"--eval-data: {options.eval_data} is not a folder")
    config = options.eval_config or (str(source.config) if source.config else None)
    if config is None:
        raise ConvertError("--eval-data: give --eval-config (no training config for the "
                           "checkpoint)")
    return open_split(options.eval_data, options.eval_split, config=config)


def parse_formats(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    names = [f.strip() for f in value.split(",")] if isinstance(value, str) else list(value)
    names = [n for n in names if n]
    if not names:
        raise ConvertError(f"--formats: give at least one of {', '.join(FORMATS)}")
    for name in names:
        if name not in FORMATS:
            raise ConvertError(f"--formats: unknown format {name!r} (known: {', '.join(FORMATS)})")
    return tuple(dict.fromkeys(names))


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text())  # YAML reads the JSON evaluate writes, too
    except (OSError, yaml.YAMLError) as error:
        raise ConvertError(f"--metrics: cannot read {path} ({error})") from None
    if not isinstance(raw, dict):
        raise ConvertError(f"--metrics: {path} is not a mapping of scores")
    keep = ("miou", "global_accuracy", "class_average_accuracy", "split", "samples")
    return {k: raw[k] for k in keep if k in raw} or raw
