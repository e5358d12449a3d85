"""`python -m training convert`: a Keras checkpoint -> an fp16 model bundle, checked against fp32.

Steps: check the flags, checkpoint and config (no TensorFlow yet) -> load the fp32 model -> wrap
it (uint8 BGR in, labels out) -> write each format -> parity of each format's labels against the
fp32 labels on sample frames -> model.yaml. A bundle whose parity is under --min-parity gets no
model.yaml, so nothing can load it by mistake.
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from models.bundle import FORMATS, MANIFEST, Bundle, digest, make_bundle, write_bundle
from models.labels import label_names, labels_from_probabilities
from models.palette import palette_for
from models.parity import agreement, sample_frames
from training.checkpoint import (
    DEFAULT_INPUT_SIZE,
    Checkpoint,
    CheckpointError,
    parse_input_size,
    read_checkpoint,
)

log = logging.getLogger("training.convert")

DEFAULT_FORMATS = ("tflite", "onnx")
PARITY_FRAMES = 8


class ConvertError(ValueError):
    """A flag or input the user can fix; one line, exit status 2."""


class ParityError(RuntimeError):
    """An fp16 model that disagrees with fp32 too often; one line, exit status 1."""


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


@dataclass(frozen=True)
class Plan:
    source: Checkpoint
    out: Path
    name: str
    height: int
    width: int
    formats: tuple[str, ...]
    metrics: dict[str, Any] | None


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
    return Plan(source, out, options.name or out.resolve().name, height, width, formats, metrics)


def parse_formats(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    names = [f.strip() for f in value.split(",")] if isinstance(value, str) else list(value)
    names = [n for n in names if n]
    if not names:
        raise ConvertError("--formats: give at least one of tflite, onnx, tftrt")
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


def convert(options: ConvertOptions) -> Bundle:
    job = plan(options)
    source = job.source
    size = f"{job.height}x{job.width}"
    rounded = options.input_size and options.input_size.lower() != size
    asked = f" (asked {options.input_size}, rounded up to multiples of 32)" if rounded else ""
    log.info("source: %s (%s)%s; input %s%s", source.checkpoint, source.kind,
             f" + {source.config}" if source.config else "", size, asked)
    log.info("loading TensorFlow")
    from models.preprocess import backbone_preprocess
    from training import export
    from training.graph import serving_function
    from training.keras_checkpoint import complete_checkpoint, load_keras_model

    if "tftrt" in job.formats and (reason := export.tensorrt_missing()):
        raise ConvertError(f"--formats tftrt: {reason}")
    model = load_keras_model(source)
    source = complete_checkpoint(source, model)
    assert source.backbone is not None and source.classes is not None
    preprocess = backbone_preprocess(source.backbone)
    channels = int(model.output_shape[-1])
    fixed = tuple(model.input_shape[1:3])
    if None not in fixed and fixed != (job.height, job.width):
        raise ConvertError(f"{source.checkpoint}: the model takes only {fixed[0]}x{fixed[1]} "
                           f"inputs; convert with --input-size {fixed[0]}x{fixed[1]}")
    log.info("model: %s Unet, %d output channels, %s activation, %d parameters, %s preprocessing",
             source.backbone, channels, source.final_activation, model.count_params(),
             preprocess.mode)

    job.out.mkdir(parents=True, exist_ok=True)
    (job.out / MANIFEST).unlink(missing_ok=True)  # stale manifest + new files = a broken bundle
    serve = serving_function(model, preprocess, options.output, shape=(1, job.height, job.width))
    files = {}
    for fmt in job.formats:
        path = job.out / FORMATS[fmt]
        started = time.monotonic()
        log.info("writing %s", path.name)
        if fmt == "tflite":
            export.export_tflite(serve, path)
        elif fmt == "onnx":
            meta = {"num_classes": str(channels), "output": options.output, "name": job.name}
            export.export_onnx(serve, path, meta)
        else:
            export.export_tftrt(serve, path)
        files[fmt] = path.name
        log.info("wrote %s: %.2f MB in %.0f s", path.name, digest(path)[1] / 1e6,
                 time.monotonic() - started)

    frames = sample_frames(options.samples, job.height, job.width, count=PARITY_FRAMES)
    reference = np.concatenate([_labels(serve(frames[i:i + 1])) for i in range(len(frames))])
    classes = label_names(source.classes)
    bundle = make_bundle(
        job.out, name=job.name, classes=classes, height=job.height,
        width=job.width, files=files, output=options.output,
        palette=palette_for(classes, source.colours),
        provenance=_provenance(source, model, preprocess.mode, job, options, len(frames)),
    )
    bundle.parity = {fmt: _parity(bundle, fmt, frames, reference) for fmt in job.formats}
    log.info("parity with fp32 Keras on %d %s frames: %s", len(frames),
             "sample" if options.samples else "synthetic",
             ", ".join(f"{fmt} {value:.4f}" for fmt, value in bundle.parity.items()))
    low = {fmt: v for fmt, v in bundle.parity.items() if v < options.min_parity}
    if low:
        worst = ", ".join(f"{fmt} {value:.4f}" for fmt, value in low.items())
        raise ParityError(
            f"parity under --min-parity {options.min_parity}: {worst} of pixels equal fp32 Keras; "
            f"{job.out} has no {MANIFEST}"
        )
    write_bundle(bundle)
    log.info("wrote %s", bundle.manifest_path)
    return bundle


def _labels(out: dict) -> np.ndarray:
    return labels_from_probabilities(next(iter(out.values())).numpy())


def _parity(bundle: Bundle, fmt: str, frames: np.ndarray, reference: np.ndarray) -> float:
    """Run the file the way the app will (its engine), on the CPU."""
    if fmt == "tftrt":
        return _tftrt_parity(bundle, frames, reference)
    from models.engines.litert import LiteRTEngine
    from models.engines.onnx import OnnxEngine

    engine = LiteRTEngine(bundle) if fmt == "tflite" else OnnxEngine(bundle, providers=["cpu"])
    with engine:
        return agreement(engine.infer(frames), reference)


def _tftrt_parity(bundle: Bundle, frames: np.ndarray, reference: np.ndarray) -> float:
    from training.framework import tf

    serve = tf.saved_model.load(str(bundle.path_of("tftrt"))).signatures["serving_default"]
    labels = [_labels(serve(tf.constant(frames[i:i + 1]))) for i in range(len(frames))]
    return agreement(np.concatenate(labels), reference)


def _provenance(source: Checkpoint, model, mode: str, job: Plan, options: ConvertOptions,
                frames: int) -> dict[str, Any]:
    from training.framework import tf

    checkpoint_bytes = digest(source.checkpoint)[1] if source.checkpoint.exists() else None
    return {
        "checkpoint": str(source.checkpoint),
        "checkpoint_kind": source.kind,
        "checkpoint_bytes": checkpoint_bytes,
        "config": str(source.config) if source.config else None,
        "dataset": source.dataset,
        "data": source.data or None,
        "backbone": source.backbone,
        "preprocess": mode,
        "activation": source.final_activation,
        "decoder_filters": list(source.decoder_filters) or None,
        "fp32_params": int(model.count_params()),
        "fp32_bytes": int(model.count_params()) * 4,
        "metrics": job.metrics,
        "parity_frames": f"{frames} {'from ' + options.samples if options.samples else 'synthetic'}",
        "min_parity": options.min_parity,
        "converted": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "converter": f"tensorflow {tf.__version__}, python {platform.python_version()}",
    }


__all__ = ["CheckpointError", "ConvertError", "ConvertOptions", "ParityError", "convert", "plan"]
