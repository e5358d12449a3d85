"""A new user's first short run on their own one-class data, with the defaults: the model must
predict its class in inference mode (as evaluation, conversion and the app run it), not only in
training mode. With BatchNorm's stock momenta (MobileNetV2 0.999, the decoder 0.99) the moving
statistics still hold their initial values after this run's 80 steps, and it predicts background
everywhere (square IoU 0.0 on three data seeds); the default `model.bn_momentum: 0.9` follows
them (0.81-0.84). The run also shows validation's progress lines."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

SIZES = [(64, 64), (72, 96), (96, 80), (60, 100)]  # mixed sizes and aspects, as own data has
IOU_FLOOR = 0.4  # clearly above 0: the old momenta gave 0.0, the default over 0.8


def write_squares(root: Path, n_train: int = 32, n_val: int = 6, seed: int = 0) -> Path:
    """A bright square (mask value 1) on a dark noisy background, folder layout with split
    files; returns a config as the README's example writes one (encoder from scratch)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    names = []
    for i in range(n_train + n_val):
        h, w = SIZES[i % len(SIZES)]
        mask = np.zeros((h, w), np.uint8)
        side = int(rng.integers(h // 4, h // 2))
        y, x = int(rng.integers(0, h - side)), int(rng.integers(0, w - side))
        mask[y:y + side, x:x + side] = 1
        image = np.where(mask[..., None] == 1, 220, 30).astype(np.uint8).repeat(3, axis=2)
        noise = rng.integers(-20, 20, image.shape)
        image = np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)
        names.append(f"s{i:02d}")
        cv2.imwrite(str(root / "images" / f"{names[-1]}.png"), image)
        cv2.imwrite(str(root / "masks" / f"{names[-1]}.png"), mask)
    (root / "train.txt").write_text("\n".join(names[:n_train]) + "\n")
    (root / "val.txt").write_text("\n".join(names[n_train:]) + "\n")
    config = root / "square.yaml"
    config.write_text(yaml.safe_dump({
        "name": "square",
        "data": {"dataset": "folder", "root": str(root), "classes": ["square"],
                 "values": [1], "input_size": [64, 64]},
        # no bn_momentum: the default is what is tested
        "model": {"backbone": "mobilenetv2", "encoder_weights": None,
                  "decoder_filters": [16, 8, 8, 8, 8]},
        # 5 epochs of 16 steps: a short first run (the README's own config, made tiny)
        "train": {"epochs": 5, "batch_size": 2, "seed": 1, "augment": {"crop": None}},
    }))
    return config


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """(config, run folder, the log's messages) of one short run with the defaults."""
    from training.__main__ import main

    base = tmp_path_factory.mktemp("first")
    config = write_squares(base / "squares")
    logger, collect = logging.getLogger("training"), Collect()
    level = logger.level
    logger.addHandler(collect)
    logger.setLevel(logging.INFO)
    try:
        assert main(["train", "--config", str(config), "--out", str(base / "run")]) == 0
    finally:
        logger.removeHandler(collect)
        logger.setLevel(level)
    return config, base / "run", collect.messages


def test_a_short_first_run_predicts_its_class_in_inference_mode(first_run, tmp_path) -> None:
    from training.__main__ import main
    from training.config import load_config

    config, run, _ = first_run
    assert load_config(config).model.bn_momentum == 0.9  # the default, not set in the file
    assert "bn_momentum" not in yaml.safe_load(config.read_text())["model"]
    scores = tmp_path / "scores.json"
    # evaluate runs the model with training=False: BatchNorm's moving statistics
    assert main(["evaluate", "--checkpoint", str(run / "model.h5"), "--config", str(config),
                 "--split", "train", "--json", str(scores)]) == 0
    result = json.loads(scores.read_text())
    assert result["classes"] == ["background", "square"]
    assert result["iou"][1] > IOU_FLOOR, result["iou"]


def test_validation_shows_its_progress(first_run) -> None:
    _, _, messages = first_run
    for epoch in range(1, 6):  # 6 images in batches of 2: the last batch's line each epoch
        assert any(m.startswith(f"epoch {epoch} validation batch 3/3, ") for m in messages), \
            epoch
