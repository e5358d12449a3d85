"""Session fixtures shared by every test package: a tiny real Unet, converted once.

`python -m models convert` runs once per session in a subprocess, as a user runs it; the app,
engine and bundle tests all use (or copy) that bundle. Without TensorFlow, `tiny_bundle` is the
same converter's output shipped in tests/data/tiny-bundle, and the converter's tests skip.
"""

from __future__ import annotations

import json
import shutil
import traceback
from pathlib import Path

import cv2
import pytest
import yaml
from testkit import (
    ASKED_SIZE,
    CLASSES,
    DECODER,
    NO_TENSORFLOW,
    ROOT,
    SHIPPED_TINY_BUNDLE,
    Converted,
    run_models,
    write_labelled_tree,
)

pytest_plugins = ["temp_space", "pytester"]  # temp_space: a failure in a full temp folder says so

# What requirements-train.txt adds to the runtime: a test that needs one of these skips where it
# is not installed, unless the import came from app/ (the runtime must never need them).
TRAINING_MODULES = {"tensorflow", "tf_keras", "keras", "segmentation_models", "tf2onnx", "onnx",
                    "albumentations", "PIL", "matplotlib"}
# Tools the tests run themselves to inspect results (Debian's ffmpeg package).
TEST_TOOLS = {"ffprobe": "apt-get install ffmpeg"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    try:
        return (yield)
    except (ModuleNotFoundError, FileNotFoundError) as error:
        frames = traceback.extract_tb(error.__traceback__)
        if any(Path(f.filename).resolve().is_relative_to(ROOT / "app") for f in frames):
            raise
        if isinstance(error, FileNotFoundError):
            if error.filename in TEST_TOOLS:
                pytest.skip(f"needs {error.filename} ({TEST_TOOLS[error.filename]})")
        elif NO_TENSORFLOW and (error.name or "").split(".")[0] in TRAINING_MODULES:
            pytest.skip(f"{NO_TENSORFLOW}: {error}")
        raise


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
    if NO_TENSORFLOW:
        pytest.skip(NO_TENSORFLOW)
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
def tiny_bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted tiny bundle (64x64 input, sky/road/car + background); without TensorFlow,
    a copy of the shipped one (a copy: no test can change the checkout's)."""
    if not NO_TENSORFLOW:
        return request.getfixturevalue("bundle_dir")
    return Path(shutil.copytree(SHIPPED_TINY_BUNDLE, tmp_path_factory.mktemp("shipped") / "tiny"))


@pytest.fixture(scope="session")
def labelled_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(root, data config) of a CamVid-layout tree of real PNGs for the tiny bundle's classes."""
    root = write_labelled_tree(tmp_path_factory.mktemp("data") / "CamVid")
    config = root.parent / "data.yaml"
    config.write_text(yaml.safe_dump({"name": "tiny-data", "data": {
        "dataset": "camvid", "root": str(root), "classes": CLASSES}}))
    return root, config


@pytest.fixture(scope="session")
def int8_converted(tiny_source: tuple[Path, Path], labelled_data: tuple[Path, Path],
                   tmp_path_factory: pytest.TempPathFactory) -> Converted:
    """fp16 and int8 files of the tiny Unet, calibrated on the tree's train images and scored on
    its val split. Random weights: the mIoU drop is recorded, not judged (--allow-miou-drop)."""
    weights, config = tiny_source
    root, data_config = labelled_data
    out = tmp_path_factory.mktemp("bundles") / "tiny8"
    result = run_models("convert", "--checkpoint", str(weights), "--config", str(config),
                        "--out", str(out), "--input-size", ASKED_SIZE, "--min-parity", "0",
                        "--formats", "tflite,onnx,tflite-int8,onnx-int8",
                        "--calibration", str(root / "train" / "*.png"), "--calibration-count", "6",
                        "--eval-data", str(root), "--eval-config", str(data_config),
                        "--allow-miou-drop", timeout=600)
    return Converted(weights, config, out, result.stdout, result.stderr, result.returncode,
                     root / "train")


@pytest.fixture(scope="session")
def int8_bundle(int8_converted: Converted) -> Path:
    assert int8_converted.returncode == 0, int8_converted.stderr[-2000:]
    return int8_converted.bundle
