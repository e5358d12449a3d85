"""`python -m training convert`: a Keras checkpoint -> an fp16 (and int8) model bundle, checked
against fp32.

Steps: check the flags, checkpoint and config (no TensorFlow yet) -> load the fp32 model -> wrap
it (uint8 BGR in, labels out) -> write each format (int8 ones calibrated on --calibration images,
training/quantize.py) -> parity of each format's labels against the fp32 labels on sample frames
-> with --eval-data, every format and fp32 scored on a labelled split -> model.yaml. All of it
is written into a new folder beside --out that takes --out's place only at the end
(models.atomic.staged_folder): a conversion that fails (parity under --min-parity, an int8 mIoU
more than --max-miou-drop points under fp32 without --allow-miou-drop, an error, Ctrl-C) leaves
an earlier bundle in --out as it was and no half bundle. The earlier folder's other files (a
model card, train.yaml) are kept; its model files are replaced.

The checks before TensorFlow are training/convert_plan.py, parity and accuracy
training/convert_checks.py; this module runs the conversion.
"""

from __future__ import annotations

import dataclasses
import logging
import platform
import time
from datetime import datetime, timezone
from typing import Any

import numpy as np

from models.atomic import staged_folder
from models.bundle import FORMATS, MANIFEST, Bundle, digest, make_bundle, write_bundle
from models.labels import label_names
from models.palette import palette_for
from models.parity import sample_frames
from training.checkpoint import Checkpoint, CheckpointError
from training.convert_checks import check_miou_drop, labels_of, parity_of, split_accuracy
from training.convert_plan import (
    INT8_FORMATS,
    AccuracyError,
    ConvertError,
    ConvertOptions,
    ParityError,
    Plan,
    plan,
)

log = logging.getLogger("training.convert")

PARITY_FRAMES = 8


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

    target = job.out
    untouched = f"{target} left as it was" if target.exists() else f"nothing written to {target}"
    with staged_folder(target, keep=_not_a_bundle_file) as folder:
        bundle = _write(dataclasses.replace(job, out=folder), options, model, source, preprocess,
                        channels, untouched)
    bundle.root = target
    log.info("wrote %s", bundle.manifest_path)
    return bundle


def _not_a_bundle_file(name: str) -> bool:
    """What an earlier bundle folder keeps when a conversion replaces it: not its model files
    or manifest (the new ones replace them, or they would linger unlisted)."""
    return name != MANIFEST and name not in FORMATS.values()


def _write(job: Plan, options: ConvertOptions, model, source: Checkpoint, preprocess,
           channels: int, untouched: str) -> Bundle:
    """Every file, the checks and model.yaml, into `job.out` (the new folder)."""
    from training import export, quantize
    from training.graph import serving_function

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
    reference = np.concatenate([labels_of(serve(frames[i:i + 1])) for i in range(len(frames))])
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
    bundle.parity = {fmt: parity_of(bundle, fmt, frames, reference) for fmt in job.formats}
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
            f"{untouched}"
        )
    if job.split is not None:
        bundle.accuracy = split_accuracy(bundle, job.split, serve)
        check_miou_drop(bundle, options, untouched)
    write_bundle(bundle)
    return bundle


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
           "check_miou_drop", "convert", "plan"]
