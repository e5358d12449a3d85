"""`python -m training convert`: a Keras checkpoint -> an fp16 (and int8) model bundle, checked
against fp32.

Steps: check the flags, checkpoint and config (no TensorFlow yet) -> load the fp32 model -> wrap
it (uint8 BGR in, labels out) -> write each format (int8 ones calibrated on --calibration images,
training/quantize.py) -> parity of each format's labels against the fp32 labels on sample frames
-> with --eval-data, every format and fp32 scored on a labelled split -> model.yaml. A bundle
whose parity is under --min-parity, or whose int8 mIoU is more than --max-miou-drop points under
fp32 (unless --allow-miou-drop), gets no model.yaml, so nothing can load it by mistake.
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

from models.bundle import (
    FORMAT_PRECISION,
    FORMATS,
    MANIFEST,
    Bundle,
    digest,
    make_bundle,
    write_bundle,
)
from models.engines import Engine
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
    from training import export, quantize
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
    shape = (1, job.height, job.width)
    serve = serving_function(model, preprocess, options.output, shape=shape)
    serve_int8 = calibration = None
    if job.calibration is not None:
        serve_int8 = serving_function(model, preprocess, options.output, shape=shape, logits=True)
        calibration = quantize.calibration_frames(job.calibration, job.height, job.width)
        log.info("calibration: %d of %d images from %s (seed %d)", len(job.calibration.paths),
                 job.calibration.available, job.calibration.spec, job.calibration.seed)
    meta = {"num_classes": str(channels), "output": options.output, "name": job.name}
    files = {}
    for fmt in job.formats:
        path = job.out / FORMATS[fmt]
        started = time.monotonic()
        log.info("writing %s", path.name)
        if fmt == "tflite":
            export.export_tflite(serve, path)
        elif fmt == "onnx":
            export.export_onnx(serve, path, meta)
        elif fmt == "tflite-int8":
            quantize.export_tflite_int8(serve_int8, path, calibration)
        elif fmt == "onnx-int8":
            quantize.export_onnx_int8(serve_int8, path, meta, calibration)
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
    if job.calibration is not None:
        bundle.quantization = {
            "calibration": job.calibration.record(),
            "schemes": {fmt: quantize.SCHEMES[fmt] for fmt in job.formats if fmt in INT8_FORMATS},
            "max_miou_drop": options.max_miou_drop,
        }
    bundle.parity = {fmt: _parity(bundle, fmt, frames, reference) for fmt in job.formats}
    log.info("parity with fp32 Keras on %d %s frames: %s", len(frames),
             "sample" if options.samples else "synthetic",
             ", ".join(f"{fmt} {value:.4f}" for fmt, value in bundle.parity.items()))
    # int8 files are judged on the split's mIoU below: their pixel parity is only reported
    low = {fmt: v for fmt, v in bundle.parity.items()
           if v < options.min_parity and fmt not in INT8_FORMATS}
    if low:
        worst = ", ".join(f"{fmt} {value:.4f}" for fmt, value in low.items())
        raise ParityError(
            f"parity under --min-parity {options.min_parity}: {worst} of pixels equal fp32 Keras; "
            f"{job.out} has no {MANIFEST}"
        )
    if job.split is not None:
        bundle.accuracy = _accuracy(bundle, job.split, serve)
        check_miou_drop(bundle, options, job.out)
    write_bundle(bundle)
    log.info("wrote %s", bundle.manifest_path)
    return bundle


def _labels(out: dict) -> np.ndarray:
    return labels_from_probabilities(next(iter(out.values())).numpy())


def _parity(bundle: Bundle, fmt: str, frames: np.ndarray, reference: np.ndarray) -> float:
    """Run the file the way the app will (its engine), on the CPU."""
    if fmt == "tftrt":
        return _tftrt_parity(bundle, frames, reference)
    with _cpu_engine(bundle, fmt) as engine:
        return agreement(engine.infer(frames), reference)


def _cpu_engine(bundle: Bundle, fmt: str) -> Engine:
    from models.engines.litert import LiteRTEngine
    from models.engines.onnx import OnnxEngine

    if fmt.startswith("tflite"):
        return LiteRTEngine(bundle, fmt=fmt)
    return OnnxEngine(bundle, providers=["cpu"], fmt=fmt)


class _ServedEngine(Engine):
    """The fp32 served graph in memory behind the Engine interface (the split's reference)."""

    backend = "keras"
    format = "keras"

    def __init__(self, bundle: Bundle, serve) -> None:
        super().__init__(bundle)
        from training.framework import tf

        self._tf, self._serve = tf, serve

    def _run(self, frames: np.ndarray) -> np.ndarray:
        return np.concatenate([_labels(self._serve(self._tf.constant(frames[i:i + 1])))
                               for i in range(len(frames))])


def _accuracy(bundle: Bundle, split, serve) -> dict[str, Any]:
    """fp32 and every runnable file scored on the split; deltas in mIoU points against fp32."""
    from training.scoring import score_engines

    engines: dict[str, Engine] = {"fp32": _ServedEngine(bundle, serve)}
    engines.update({fmt: _cpu_engine(bundle, fmt) for fmt in bundle.files if fmt != "tftrt"})
    log.info("scoring fp32 and %s on %s %s (%d images)", ", ".join(list(engines)[1:]),
             split.root, split.name, len(split))

    def progress(done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            log.info("scored %d/%d", done, total)

    scored = score_engines(split, engines, reference="fp32", progress=progress)
    fp32 = scored["fp32"].scores
    record: dict[str, Any] = {**split.describe(), "reference": "fp32 Keras (the checkpoint)",
                              "fp32": {"miou": fp32.miou,
                                       "global_accuracy": fp32.global_accuracy}}
    for fmt, result in scored.items():
        if fmt == "fp32":
            continue
        record[fmt] = {"miou": result.scores.miou,
                       "global_accuracy": result.scores.global_accuracy,
                       "miou_delta": round(100 * (result.scores.miou - fp32.miou), 3),
                       "agreement": round(result.agreement or 0.0, 6)}
        log.info("%s: mIoU %.2f (fp32 %.2f, delta %+.2f points), labels = fp32 on %.4f of "
                 "pixels", fmt, 100 * result.scores.miou, 100 * fp32.miou,
                 record[fmt]["miou_delta"], record[fmt]["agreement"])
    for engine in engines.values():
        engine.close()
    return record


def check_miou_drop(bundle: Bundle, options: ConvertOptions, out: Path) -> None:
    accuracy = bundle.accuracy
    worse = [(fmt, accuracy[fmt]["miou_delta"]) for fmt in bundle.files
             if fmt in INT8_FORMATS and fmt in accuracy
             and -accuracy[fmt]["miou_delta"] > options.max_miou_drop]
    if not worse:
        return
    what = ", ".join(f"{fmt} {delta:+.2f}" for fmt, delta in worse)
    message = (f"mIoU against fp32 on {accuracy['split']} of {accuracy['data']}: {what} points, "
               f"more than --max-miou-drop {options.max_miou_drop}")
    if options.allow_miou_drop:
        log.warning("%s; kept (--allow-miou-drop)", message)
        return
    raise AccuracyError(f"{message}; {out} has no {MANIFEST} (--allow-miou-drop keeps it)")


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


__all__ = ["AccuracyError", "CheckpointError", "ConvertError", "ConvertOptions", "ParityError",
           "convert", "plan"]
