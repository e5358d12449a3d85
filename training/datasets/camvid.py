"""CamVid as SegNet ships it: `<split>/*.png` images and `<split>annot/*.png` index masks 0..11."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.palette import CAMVID_CLASSES
from training.datasets.common import (
    DatasetError,
    check_pair,
    one_hot,
    read_index_mask,
    read_rgb,
)
from training.datasets.names import ClassNames

CAMVID_VOID = CAMVID_CLASSES.index("unlabelled")


class CamVid(ClassNames):
    """Lazy CamVid reader: `(image (H,W,3) uint8 RGB, mask (H,W,N) float32 one-hot)`.

    `classes` picks a subset by name; with more than one class a background channel is added
    last (as the segmentation_models CamVid example does). `unlabelled` is void: all-zero.
    """

    def __init__(self, root: str | Path, split: str = "train", classes: list[str] | None = None):
        self.root = Path(root)
        self.split = split
        self.classes = list(classes or CAMVID_CLASSES[:-1])
        unknown = [name for name in self.classes if name not in CAMVID_CLASSES]
        if unknown:
            raise DatasetError(
                f"unknown CamVid class {unknown[0]!r}; choose from {', '.join(CAMVID_CLASSES)}"
            )
        self.class_values = [CAMVID_CLASSES.index(name) for name in self.classes]
        self.void = None if "unlabelled" in self.classes else CAMVID_VOID
        image_dir, mask_dir = self.root / split, self.root / f"{split}annot"
        for folder in (image_dir, mask_dir):
            if not folder.is_dir():
                raise DatasetError(f"CamVid folder not found: {folder}")
        self.images = sorted(image_dir.glob("*.png"))
        if not self.images:
            raise DatasetError(f"no .png images in {image_dir}")
        self.masks = [mask_dir / image.name for image in self.images]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def names(self) -> list[str]:
        """Each sample's file stem (CamVid's sequence is the part before the first '_')."""
        return [image.stem for image in self.images]

    def image_path(self, i: int) -> Path:
        return self.images[i]

    def mask_path(self, i: int) -> Path:
        return self.masks[i]

    def sample_indices(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The image and its raw index mask (0..10 classes, 11 unlabelled)."""
        image = read_rgb(self.images[i])
        mask = read_index_mask(self.masks[i])
        check_pair(self.images[i], self.masks[i], image, mask)
        return image, mask

    def encode(self, index_mask: np.ndarray) -> np.ndarray:
        return one_hot(index_mask, self.class_values, self.add_background, self.void)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        image, mask = self.sample_indices(i)
        return image, self.encode(mask)
