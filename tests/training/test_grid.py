"""predictions.png: a title over each column (image, truth, prediction) and images of mixed sizes
lined up under them, written by evaluation from real files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml

from training.grid import GAP, TITLE_HEIGHT, TITLES

SIZES = [(48, 80), (90, 60), (64, 64)]  # (height, width): wide, tall and square


def write_folder(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, (h, w) in enumerate(SIZES):
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4: h // 2, w // 4: w // 2] = 1
        image = np.where(mask[..., None] == 1, 200, 40).astype(np.uint8).repeat(3, axis=2)
        cv2.imwrite(str(root / "images" / f"p{i}.png"), image)
        cv2.imwrite(str(root / "masks" / f"p{i}.png"), mask)
    config = root / "person.yaml"
    config.write_text(yaml.safe_dump({"name": "person", "data": {
        "dataset": "folder", "root": str(root), "classes": ["person"]}}))
    return config


def test_the_grid_has_a_title_over_each_column(tmp_path: Path) -> None:
    from training.config import load_config
    from training.datasets import open_dataset
    from training.evaluate import evaluate

    config = load_config(write_folder(tmp_path / "data"))
    dataset = open_dataset(config.data, "val")
    palette = np.array([[0, 0, 0], [255, 0, 0]], np.uint8)
    grid = tmp_path / "predictions.png"
    evaluate(dataset, lambda image: np.zeros(image.shape[:2], np.int64), config.label_names,
             grid, palette=palette)
    picture = cv2.cvtColor(cv2.imread(str(grid)), cv2.COLOR_BGR2RGB)

    width = (picture.shape[1] - 2 * GAP) // 3
    assert picture.shape[1] == 3 * width + 2 * GAP
    heights = [round(h * width / w) for h, w in SIZES]  # every panel scaled to one width
    assert picture.shape[0] == TITLE_HEIGHT + sum(heights) + GAP * len(SIZES)
    band = picture[:TITLE_HEIGHT]
    for k, title in enumerate(TITLES):
        column = band[:, k * (width + GAP): k * (width + GAP) + width]
        text = np.argwhere(column.min(axis=2) > 200)  # white letters on the dark band
        assert len(text) > 20, title
        (text_w, _), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        assert text[:, 1].max() - text[:, 1].min() + 1 <= text_w + 2, title  # this title fits
    # under "truth" the class (red) shows; under "prediction" (background everywhere) it does not
    rows = picture[TITLE_HEIGHT + GAP:]
    truth = rows[:, width + GAP: 2 * width + GAP]
    prediction = rows[:, 2 * (width + GAP):]
    assert (truth == [255, 0, 0]).all(axis=2).any()
    assert not (prediction == [255, 0, 0]).all(axis=2).any()
