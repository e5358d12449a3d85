"""Data sets: CamVid, PASCAL VOC and a user's own folder, all with the same contract.

`ds[i] -> (image (H,W,3) uint8 RGB, mask (H,W,N) float32 one-hot)`; `ds.sample_indices(i)` gives the
raw class-index mask instead, and `ds.encode(index_mask)` one-hot encodes it.
"""

from __future__ import annotations

from training.datasets.camvid import CamVid
from training.datasets.common import DatasetError

__all__ = ["CamVid", "DatasetError", "open_dataset"]


def open_dataset(data, split: str):
    """The data set named by a training config's `data` section, for one split."""
    if data.dataset == "camvid":
        return CamVid(data.root, split, data.classes)
    if data.dataset == "voc":
        from training.datasets.voc import VOC

        return VOC(data.root, year=data.year, split=split, classes=data.classes)
    from pathlib import Path

    from training.datasets.folder import Folder

    root = Path(data.root)
    split_file = root / f"{split}.txt"
    return Folder(
        root / (data.images_dir or "images"),
        root / (data.masks_dir or "masks"),
        ids=str(split_file) if split_file.is_file() else None,
        classes=data.classes,
        values=data.values,
        colors=data.colors,
        void_value=data.void_value,
    )
