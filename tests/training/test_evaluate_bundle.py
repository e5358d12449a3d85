"""`python -m training evaluate --bundle` scores the labels the app shows, on frames of any size.

The ground truth of a folder data set is made from what the app does with each image (its
Segmenter letterboxes the frame, the renderer stretches the labels back with nearest
neighbours), so evaluation must reach a global accuracy of exactly 1. The images are larger than
the bundle's 64x64 input and of other aspects: stretching them into the input instead (what
evaluation used to do) gives other labels, which the test checks it would notice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import yaml
from testkit import CLASSES, ROOT

from app.segmenter import Segmenter
from models.engines import open_engine
from models.parity import synthetic_frames

SIZES = [(96, 160), (150, 100), (64, 200)]  # all larger than the 64x64 input, none square


def app_labels(segmenter: Segmenter, frame: np.ndarray) -> np.ndarray:
    """The labels the app draws over `frame` (app/render.py resizes them to the frame nearest)."""
    labels = segmenter.segment(frame)
    height, width = frame.shape[:2]
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)


def stretched_labels(engine, frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    in_h, in_w = engine.input_size
    labels = engine.infer(cv2.resize(frame, (in_w, in_h))[None])[0]
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)


def write_truth(root: Path, tiny_bundle: Path) -> Path:
    """A folder data set whose masks are the app's labels; returns its training config."""
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    stretch_differs = []
    with open_engine(tiny_bundle, backend="litert") as engine:
        segmenter = Segmenter(engine)
        for i, (height, width) in enumerate(SIZES):
            frame = synthetic_frames(1, height, width, seed=40 + i)[0]
            labels = app_labels(segmenter, frame)
            assert len(np.unique(labels)) >= 2, "the model answers one label everywhere"
            stretch_differs.append(bool((stretched_labels(engine, frame) != labels).any()))
            cv2.imwrite(str(images / f"frame_{i}.png"), frame)  # BGR on disk, as cameras give
            # Folder values: class k is mask value k + 1, anything else (0) background.
            background = len(CLASSES)
            mask = np.where(labels == background, 0, labels + 1).astype(np.uint8)
            cv2.imwrite(str(masks / f"frame_{i}.png"), mask)
    assert any(stretch_differs), "these frames cannot tell letterboxing from stretching"
    config = root / "eval.yaml"
    config.write_text(yaml.safe_dump({
        "name": "parity", "data": {"dataset": "folder", "root": str(root), "classes": CLASSES},
    }))
    return config


def test_bundle_evaluation_gives_the_app_labels_on_larger_frames(tiny_bundle: Path,
                                                                 tmp_path: Path) -> None:
    config = write_truth(tmp_path / "data", tiny_bundle)
    scores = tmp_path / "scores.json"
    result = subprocess.run(
        [sys.executable, "-m", "training", "evaluate", "--bundle", str(tiny_bundle),
         "--config", str(config), "--backend", "litert", "--json", str(scores)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(scores.read_text())
    assert measured["samples"] == len(SIZES)
    assert sum(measured["pixels"]) == sum(h * w for h, w in SIZES)  # every pixel scored
    assert measured["global_accuracy"] == 1.0
