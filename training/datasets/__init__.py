"""Data sets: CamVid, PASCAL VOC and a user's own folder (or VOC layout), with one contract.

`ds.sample_indices(i) -> (image (H,W,3) uint8 RGB, raw index mask (H,W) uint8)`, `ds.labels(mask)`
gives the label map (models.labels, void labels.VOID) and `ds.encode(mask)` the one-hot channels
(void all zero); `ds[i]` is (image, one-hot). `open_dataset(data, split)` opens a config's split.
"""

from __future__ import annotations

from pathlib import Path

from models.palette import VOC_CLASSES, VOC_VOID
from training.config import HELDOUT
from training.datasets.camvid import CamVid
from training.datasets.common import DatasetError
from training.datasets.splits import hold_out, split_path

__all__ = ["CamVid", "DatasetError", "open_dataset", "validation_split"]


def validation_split(data) -> str:
    """The split training validates on: the held-out groups, or val_split."""
    return HELDOUT if data.val_groups else data.val_split


def open_dataset(data, split: str):
    """The data set named by a training config's `data` section, for one split.

    With `val_groups`, the train split loses those groups and `heldout` is them.
    """
    if data.val_groups and split in (HELDOUT, data.train_split):
        held, kept = hold_out(_open(data, data.train_split), data)
        return held if split == HELDOUT else kept
    if split == HELDOUT:
        raise DatasetError(f"split {HELDOUT!r}: the config holds out no groups (data.val_groups)")
    return _open(data, split)


def _required(data, split: str) -> bool:
    """A split must be found unless it is the default name of a split the config left unset."""
    defaults = {name: data.model_fields[name].default for name in ("train_split", "val_split")}
    return not any(split == value and name not in data.model_fields_set
                   for name, value in defaults.items())


def _key_for(data, split: str) -> str:
    if split == data.train_split:
        return "data.train_split"
    return "data.val_split" if split == data.val_split else "--split"


def _open(data, split: str):
    if data.dataset == "camvid":
        return CamVid(data.root, split, data.classes)
    if data.dataset == "voc":
        return _open_voc(data, split)
    from training.datasets.folder import Folder

    root = Path(data.root)
    split_file = split_path(root, split)
    if not split_file.is_file() and _required(data, split):
        raise DatasetError(f"{_key_for(data, split)}: {split}: no split file {split_file} "
                           f"(a split is a file of image names, one a line)")
    return Folder(
        root / (data.images_dir or "images"),
        root / (data.masks_dir or "masks"),
        ids=str(split_file) if split_file.is_file() else None,
        classes=data.classes,
        values=data.values,
        colors=data.colors,
        void_value=data.void_value,
    )


def _open_voc(data, split: str):
    from training.datasets.voc import VOC, read_ids, resolve_voc_dir, voc_split_file

    own = data.values is not None or data.colors is not None
    if not own:
        unknown = [name for name in data.classes if name not in VOC_CLASSES]
        if unknown:
            raise DatasetError(
                f"data.classes: {unknown[0]!r} is no VOC class; for your own classes in VOC "
                f"layout give each one's mask value (data.values, e.g. [1]) or colour "
                f"(data.colors); VOC classes: {', '.join(VOC_CLASSES[1:])}"
            )
        return VOC(data.root, year=data.year, split=split, classes=data.classes,
                   masks_subdir=data.masks_dir or "SegmentationClass",
                   images_subdir=data.images_dir or "JPEGImages")
    from training.datasets.folder import Folder

    voc_dir = resolve_voc_dir(data.root, data.year)
    split_file = voc_split_file(voc_dir, split)
    if not split_file.is_file():
        raise DatasetError(f"{_key_for(data, split)}: {split}: no split file {split_file}")
    void = data.void_value
    if void is None and data.colors is None:
        void = VOC_VOID  # VOC's convention: 255 marks borders and unsure pixels
    if void is not None and data.values is not None and void in data.values:
        void = None  # a class of one's own data may use 255; then nothing is void
    return Folder(
        voc_dir / (data.images_dir or "JPEGImages"),
        voc_dir / (data.masks_dir or "SegmentationClass"),
        ids=read_ids(split_file),
        classes=data.classes,
        values=data.values,
        colors=data.colors,
        void_value=void,
    )
