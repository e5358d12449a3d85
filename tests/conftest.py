"""Session fixtures shared by every test package: a tiny real Unet, converted once.

`python -m models convert` runs once per session in a subprocess, as a user runs it; the app,
engine and bundle tests all use (or copy) that bundle.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import yaml
from testkit import ASKED_SIZE, CLASSES, DECODER, Converted, run_models, write_labelled_tree


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
