"""Session fixtures shared by every test package: a tiny real Unet, converted once.

`python -m models convert` runs once per session in a subprocess, as a user runs it; the app,
engine and bundle tests all use (or copy) that bundle.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from testkit import ASKED_SIZE, CLASSES, DECODER, Converted, run_models


def pytest_configure(config: pytest.Config) -> None:
    """Import TensorFlow (where installed) before any test initialises GStreamer: TensorFlow
    imported into a process where OpenCV and GStreamer are already loaded aborts it, and which
    test comes first must not decide whether the session survives."""
    from importlib.util import find_spec

    if find_spec("tensorflow") is not None:
        import training.framework  # noqa: F401 - sets tf.keras up, then imports TensorFlow


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(weights, config.yaml) of a randomly initialised mobilenetv2 Unet, 3 classes + background."""
    from training.scratch import make_scratch_checkpoint

    return make_scratch_checkpoint(tmp_path_factory.mktemp("run"), CLASSES,
                                   decoder_filters=DECODER, seed=3)


@pytest.fixture(scope="session")
def converted(tiny_source: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Converted:
    """The CLI as a user runs it, with sample images for parity and evaluation scores."""
    weights, config = tiny_source
    work = tmp_path_factory.mktemp("bundles")
    samples = write_samples(work / "samples")
    metrics = work / "scores.json"
    metrics.write_text(json.dumps({"classes": CLASSES, "miou": 0.42, "global_accuracy": 0.8,
                                   "split": "val", "samples": 3}))
    out = work / "tiny"
    result = run_models("convert", "--checkpoint", str(weights), "--config", str(config),
                        "--out", str(out), "--input-size", ASKED_SIZE, "--min-parity", "0",
                        "--samples", str(samples), "--metrics", str(metrics))
    return Converted(weights, config, out, result.stdout, result.stderr, result.returncode,
                     samples)


def write_samples(folder: Path) -> Path:
    """Three real PNGs of other sizes than the model's input (the converter resizes them)."""
    from models.parity import synthetic_frames

    folder.mkdir(parents=True)
    for i, (h, w) in enumerate([(120, 160), (90, 90), (64, 64)]):
        cv2.imwrite(str(folder / f"frame_{i}.png"), synthetic_frames(1, h, w, seed=20 + i)[0])
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="session")
def bundle_dir(converted: Converted) -> Path:
    assert converted.returncode == 0, converted.stderr[-2000:]
    return converted.bundle



@pytest.fixture(scope="session")
def tiny_bundle(bundle_dir: Path) -> Path:
    """The converted tiny bundle (64x64 input, sky/road/car + background)."""
    return bundle_dir
