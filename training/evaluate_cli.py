"""`python -m training evaluate`: score a checkpoint or a bundle on a data set split."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from models.labels import labels_from_probabilities, trained_classes
from models.letterbox import Letterbox, to_frame
from models.settings_file import validate
from training.config import Config, ConfigError, load_config
from training.datasets import open_dataset
from training.evaluate import evaluate, write_json

log = logging.getLogger(__name__)


def _config_for(args) -> Config:
    candidates = [args.config] if args.config else []
    if args.checkpoint:
        candidates.append(str(Path(args.checkpoint).parent / "config.yaml"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            overrides = {"data.root": str(Path(args.data).resolve())} if args.data else None
            return load_config(candidate, overrides)
    raise ConfigError(f"{args.checkpoint}: pass --config (no config.yaml beside the checkpoint)")


def _keras_predictor(args, config: Config):
    """The fp32 model on the image letterboxed into data.input_size (models.letterbox, as the
    app and validation fit images), its labels stretched back to the image."""
    from training.keras_model import load_full_model
    from training.model import build_unet, preprocessing

    path = Path(args.checkpoint)
    if not path.exists():
        raise ConfigError(f"{path}: checkpoint not found")
    print(f"evaluating {path} (fp32, Keras)")
    if path.name.endswith(".weights.h5") or "weights" in path.name:
        model = build_unet(config)
        model.load_weights(str(path))
    else:
        model = load_full_model(path)
    prep = preprocessing(config.model.backbone)
    letterbox = Letterbox(*config.data.input_size)

    def predict(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        canvas, (content_h, content_w) = letterbox.fit(image)
        batch = prep(canvas[None].astype(np.float32))
        labels = labels_from_probabilities(model(batch, training=False).numpy())[0]
        return to_frame(labels[:content_h, :content_w], h, w).astype(np.int64)

    return predict


def _bundle_predictor(args):
    """The bundle as the app runs it: letterboxed into its input, labels back to the image."""
    from models.bundle import load_bundle
    from training.keras_engine import open_any_engine

    bundle = load_bundle(args.bundle)
    engine = open_any_engine(bundle, backend=args.backend)
    print(f"evaluating {engine_file(engine)} ({engine.precision}, {runtime_name(engine.backend)})")
    return bundle, engine_predictor(engine)


def engine_file(engine) -> Path:
    """The file an engine runs: its bundle file, or the keras backend's source checkpoint."""
    checkpoint = getattr(engine, "checkpoint", None)
    return Path(checkpoint) if checkpoint else engine.bundle.path_of(engine.format)


def runtime_name(backend: str) -> str:
    from models.engines.base import RUNTIME_NAMES

    return {**RUNTIME_NAMES, "keras": "Keras"}.get(backend, backend)


def engine_predictor(engine):
    """An engine's predict function: letterboxed into its input, labels back to the image."""
    letterbox = Letterbox(*engine.input_size)

    def predict(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        canvas, (content_h, content_w) = letterbox.fit(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        labels = engine.infer(canvas[None])[0][:content_h, :content_w]
        return to_frame(labels, h, w).astype(np.int64)

    return predict


def _check_outputs(args) -> None:
    """Where the scores and grid go must exist now, not after every image has been scored."""
    for flag, value in (("--json", args.json), ("--grid", args.grid)):
        if value and not Path(value).expanduser().resolve().parent.is_dir():
            raise ConfigError(f"{flag}: {value}: folder {Path(value).parent} does not exist")


def run_evaluate(args) -> int:
    _check_outputs(args)
    bundle = None
    if args.bundle:
        bundle, predict = _bundle_predictor(args)
        config = _config_for_bundle(args, bundle)
    else:
        config = _config_for(args)
        predict = _keras_predictor(args, config)
    dataset = open_dataset(config.data, args.split)
    if args.limit:
        from training.datasets.splits import Limited

        dataset = Limited(dataset, args.limit)
    classes = config.label_names  # one class: background and the class, both scored

    json_path = Path(args.json) if args.json else None
    grid = Path(args.grid) if args.grid else (
        json_path.with_name("predictions.png") if json_path else None)
    palette = None
    if bundle is not None:
        palette = np.asarray(bundle.palette, np.uint8)
    else:
        from models.palette import palette_for

        palette = palette_for(classes, config.data.palette)

    def progress(done: int, total: int) -> None:
        if done == total or done % 20 == 0:
            log.info("evaluated %d/%d", done, total)

    scores = evaluate(dataset, predict, classes, grid, palette=palette, progress=progress)
    print(scores.table())
    if json_path:
        write_json(scores, json_path, {"split": args.split, "samples": len(dataset),
                                       "source": args.bundle or args.checkpoint})
        log.info("scores written to %s", json_path)
    if grid:
        log.info("predictions grid written to %s", grid)
    return 0


def _config_for_bundle(args, bundle) -> Config:
    if args.config:
        return _config_for(args)
    provenance = getattr(bundle, "provenance", {}) or {}
    dataset = provenance.get("dataset") or "camvid"
    if not args.data:
        raise ConfigError("--data: give the data set root to evaluate a bundle on")
    # the training config's data section (images_dir, values, ...) travels in the bundle
    data = dict(provenance.get("data") or {"dataset": dataset})
    data.update(root=str(Path(args.data)), classes=trained_classes(bundle.classes))
    return validate(Config, {"data": data, "model": {"backbone": provenance.get(
        "backbone", "mobilenetv2")}}, f"{bundle.manifest_path} provenance")

