"""The warning about images smaller than the training crop, at the boundary: an image that fills
the crop exactly once fitted to data.input_size needs no padding and is not counted; one a
single pixel short in either side is, and the warning says by how much."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import yaml

# (height, width) as written; input 64x96 and crop 64x64, so each is fitted at scale 1 unless said
SIZES = {
    "exact": (64, 96),  # fills the input: exactly the crop's height
    "exact_square": (64, 64),  # exactly the crop
    "up_to_exact": (32, 48),  # scaled up 2x to exactly 64x96
    "short_height": (63, 96),  # 1 px short in height
    "short_width": (64, 63),  # 1 px short in width
}


def write_sized(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for name, (h, w) in SIZES.items():
        cv2.imwrite(str(root / "images" / f"{name}.png"), np.full((h, w, 3), 90, np.uint8))
        mask = np.zeros((h, w), np.uint8)
        mask[: h // 2] = 1
        cv2.imwrite(str(root / "masks" / f"{name}.png"), mask)
    (root / "val.txt").write_text("exact\n")
    (root / "train.txt").write_text("\n".join(n for n in SIZES if n != "exact") + "\n")
    config = root / "sized.yaml"
    config.write_text(yaml.safe_dump({
        "name": "sized",
        "data": {"dataset": "folder", "root": str(root), "classes": ["thing"],
                 "input_size": [64, 96]},
        "train": {"batch_size": 1, "augment": {"crop": [64, 64]}},
    }))
    return config


def test_only_images_short_of_the_crop_are_counted(tmp_path: Path, caplog) -> None:
    from training.__main__ import main

    config = write_sized(tmp_path / "sized")
    with caplog.at_level(logging.WARNING, logger="training"):
        assert main(["config", str(config)]) == 0
    warnings = [r.getMessage() for r in caplog.records if "smaller than the crop" in r.message]
    assert len(warnings) == 1, caplog.text
    assert warnings[0].startswith("2 of 4 training images are smaller than the crop 64x64 "
                                  "(height x width) once fitted to data.input_size 64x96 (e.g. ")
    assert "short_height.png: 63x96, 1 px short in height)" in warnings[0]


def test_how_far_short() -> None:
    from training.checks import short_of

    assert short_of((64, 64), (64, 64)) == ""
    assert short_of((65, 200), (64, 64)) == ""
    assert short_of((63, 64), (64, 64)) == "1 px short in height"
    assert short_of((64, 63), (64, 64)) == "1 px short in width"
    assert short_of((60, 30), (64, 64)) == "4 px short in height and 34 px short in width"
