"""A small learnable data set of real image files: textured shapes on textured backgrounds, in
VOC layout (JPEGImages/, SegmentationClass/, ImageSets/Segmentation/{train,val}.txt), images of
mixed sizes and aspects, grey index masks (background 0, water 1, land 2) with a void (255) ring
around every shape, as hand-drawn masks have."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

WATER, LAND, VOID = 1, 2, 255
SIZES = [(60, 80), (96, 128), (120, 90), (72, 150), (140, 180), (50, 50), (110, 70)]


def _texture(rng: np.random.Generator, h: int, w: int, colour: tuple[int, int, int],
             spread: float) -> np.ndarray:
    noise = rng.normal(0, spread, (h, w, 3)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 1.5) * 2
    return np.clip(np.array(colour, np.float32) + noise, 0, 255).astype(np.uint8)


def write_shapes(root: Path, land: bool = False, n_train: int = 24, n_val: int = 8,
                 seed: int = 0, folder: str = "VOCdevkit/VOC2012") -> Path:
    """Write the data set; returns the VOC folder (JPEGImages/ and friends are in it)."""
    rng = np.random.default_rng(seed)
    voc = root / folder
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(n_train + n_val):
        h, w = SIZES[i % len(SIZES)]
        image = _texture(rng, h, w, (120, 110, 90), 30)  # brownish ground
        mask = np.zeros((h, w), np.uint8)
        shapes = [(WATER, (40, 90, 200))] + ([(LAND, (60, 170, 60))] if land else [])
        for value, colour in shapes:
            region = np.zeros((h, w), np.uint8)
            centre = (int(rng.integers(w // 4, 3 * w // 4)), int(rng.integers(h // 4, 3 * h // 4)))
            axes = (int(rng.integers(w // 8, w // 3)), int(rng.integers(h // 8, h // 3)))
            if value == WATER:
                cv2.ellipse(region, centre, axes, float(rng.integers(0, 180)), 0, 360, 1, -1)
            else:
                cv2.rectangle(region, (centre[0] - axes[0], centre[1] - axes[1]),
                              (centre[0] + axes[0], centre[1] + axes[1]), 1, -1)
            inside = region.astype(bool)
            image[inside] = _texture(rng, h, w, colour, 25)[inside]
            ring = cv2.dilate(region, np.ones((3, 3), np.uint8)) - cv2.erode(
                region, np.ones((3, 3), np.uint8))
            mask[inside] = value
            mask[ring.astype(bool)] = VOID
        image_id = f"img_{i:03d}"
        ids.append(image_id)
        cv2.imwrite(str(voc / "JPEGImages" / f"{image_id}.jpg"), image[:, :, ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(voc / "SegmentationClass" / f"{image_id}.png"), mask)
    splits = voc / "ImageSets" / "Segmentation"
    (splits / "train.txt").write_text("\n".join(ids[:n_train]) + "\n")
    (splits / "val.txt").write_text("\n".join(ids[n_train:]) + "\n")
    return voc


def shapes_config(root: Path, path: Path, classes: list[str], **train) -> Path:
    """A tiny-Unet training config for the shapes data set (VOC layout, own classes)."""
    import yaml

    values = {"water": WATER, "land": LAND}
    config = {
        "name": "shapes",
        "data": {"dataset": "voc", "root": str(root), "classes": classes,
                 "values": [values[c] for c in classes], "input_size": [64, 96], "cache": True},
        "model": {"backbone": "mobilenetv2", "encoder_weights": None,
                  "decoder_filters": [16, 8, 8, 8, 8], "bn_momentum": 0.6},
        "train": {"epochs": 12, "batch_size": 4, "learning_rate": 0.005, "workers": 2,
                  "lr_schedule": "constant", "seed": 1,
                  "augment": {"crop": None, "rotate": 5, "scale": [0.9, 1.1]}, **train},
    }
    path.write_text(yaml.safe_dump(config))
    return path
