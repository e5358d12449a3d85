"""CamVid as SegNet ships it: `<split>/*.png` images and `<split>annot/*.png` index masks 0..11."""

from __future__ import annotations

from pathlib import Path

from models.palette import CAMVID_CLASSES
from training.datasets.common import DatasetError
from training.datasets.pairs import ImageMaskPairs

CAMVID_VOID = CAMVID_CLASSES.index("unlabelled")


class CamVid(ImageMaskPairs):
    """Lazy CamVid reader: `(image (H,W,3) uint8 RGB, mask (H,W,N) float32 one-hot)`.

    `classes` picks a subset by name; with more than one class a background channel is added
    last (as the segmentation_models CamVid example does). `unlabelled` is void: all-zero.
    `sample_indices` gives the raw index mask (0..10 classes, 11 unlabelled).
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
        self.ids = [image.stem for image in self.images]  # the sequence is before the first '_'

    def image_path(self, i: int) -> Path:
        return self.images[i]

    def mask_path(self, i: int) -> Path:
        return self.masks[i]
