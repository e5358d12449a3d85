"""Fixtures for the training tests: the real CamVid (skipped with a reason when absent) and a
tiny CamVid-layout tree made of real PNG files, for fast training runs."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

# CAMVID_ROOT wins; else the team's shared data beside the checkout (../shared/datasets/CamVid)
_CANDIDATES = [Path(p) for p in [os.environ.get("CAMVID_ROOT", "")] if p] + [
    Path(__file__).resolve().parents[3] / "shared/datasets/CamVid",
    Path("/work/shared/datasets/CamVid"),
]
CAMVID = next((p for p in _CANDIDATES if (p / "train").is_dir()), _CANDIDATES[0])


@pytest.fixture(scope="session")
def camvid_root() -> Path:
    if not (CAMVID / "train").is_dir():
        pytest.skip(f"CamVid not found at {CAMVID} (set CAMVID_ROOT)")
    return CAMVID


def write_tiny_camvid(root: Path, n_train: int = 8, n_val: int = 4, size=(64, 96), seed=0) -> Path:
    """Sky on top, road at the bottom, a car box and unlabelled (void) specks: learnable quickly."""
    rng = np.random.default_rng(seed)
    h, w = size
    for split, n in (("train", n_train), ("val", n_val)):
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / f"{split}annot").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            mask = np.full((h, w), 1, np.uint8)  # building
            mask[: h // 4] = 0  # sky
            mask[3 * h // 4 :] = 3  # road
            y, x = rng.integers(h // 4, h // 2), rng.integers(0, w - 24)
            mask[y : y + 12, x : x + 24] = 8  # car
            mask[rng.random((h, w)) < 0.02] = 11  # unlabelled
            colours = np.array([[128, 128, 128], [128, 0, 0], [0, 0, 0], [128, 64, 128]] + [[64, 0, 128]] * 8, np.uint8)
            image = colours[mask] + rng.integers(0, 30, (h, w, 3), dtype=np.uint8)
            name = f"seq_{i:05d}.png"
            cv2.imwrite(str(root / split / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(root / f"{split}annot" / name), mask)
    return root


@pytest.fixture
def tiny_camvid(tmp_path: Path) -> Path:
    return write_tiny_camvid(tmp_path / "CamVid")


def history(run: Path) -> list[dict[str, float]]:
    """A run folder's history.csv, read as training reads it."""
    from training.history import read_history

    return read_history(run / "history.csv")


def epochs_in(run: Path) -> list[int]:
    return [int(row["epoch"]) for row in history(run)]


def tiny_config(root: Path, path: Path, **train) -> Path:
    """A training config for a very small Unet on the tiny tree."""
    import yaml

    config = {
        "name": "tiny",
        "data": {"dataset": "camvid", "root": str(root), "classes": ["sky", "building", "road", "car"],
                 "cache": True, "input_size": [64, 96]},
        "model": {"backbone": "mobilenetv2", "encoder_weights": None,
                  "decoder_filters": [16, 8, 8, 8, 8]},
        "train": {"epochs": 2, "batch_size": 4, "learning_rate": 0.01, "workers": 2,
                  "augment": {"crop": [64, 64]}, **train},
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> tuple[Path, Path]:
    """(config, run folder) of a two-epoch run on the tiny tree (class weights "auto"), for the
    tests that only read a trained run: one training for all of them. A test that changes the
    run works on a copy."""
    from training.__main__ import main

    base = tmp_path_factory.mktemp("train")
    data = write_tiny_camvid(base / "CamVid")
    config = tiny_config(data, base / "tiny.yaml", class_weights="auto")
    run = base / "run"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    return config, run
