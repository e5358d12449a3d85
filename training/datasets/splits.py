"""Which images a split holds: split files found or reported, held-out groups, no overlap.

`data.val_groups` validates on whole groups (a CamVid drive, one camera, one site) taken out of
the training split, so frames of one sequence never sit on both sides. A sample's group is its
name up to `group_separator` (`group_by: prefix`), or the group a `groups_file` gives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.datasets.common import DatasetError

__all__ = ["Limited", "Subset", "check_disjoint", "group_names", "hold_out", "split_path"]


def split_path(root: Path, split: str) -> Path:
    """A split's file: `<root>/<split>.txt` for a name, or a .txt path relative to root."""
    if split.endswith(".txt") or "/" in split:
        path = Path(split).expanduser()
        return path if path.is_absolute() else root / path
    return root / f"{split}.txt"


class Subset:
    """Some samples of a data set, in the given order; everything else is the data set's."""

    def __init__(self, dataset, indices: Sequence[int], description: str):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]
        self.description = description

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def names(self) -> list[str]:
        names = self.dataset.names
        return [names[i] for i in self.indices]

    def sample_indices(self, i: int):
        return self.dataset.sample_indices(self.indices[i])

    def image_path(self, i: int) -> Path:
        return self.dataset.image_path(self.indices[i])

    def mask_path(self, i: int) -> Path:
        return self.dataset.mask_path(self.indices[i])

    def __getitem__(self, i: int):
        return self.dataset[self.indices[i]]

    def __getattr__(self, name):  # classes, labels, encode, void, ... of the data set
        return getattr(self.dataset, name)


class Limited:
    """The first `limit` samples of a data set (for quick runs and tests)."""

    def __init__(self, dataset, limit: int):
        self.dataset, self.limit = dataset, min(limit, len(dataset))

    def __len__(self) -> int:
        return self.limit

    @property
    def names(self) -> list[str]:
        return self.dataset.names[: self.limit]

    def __getattr__(self, name):  # sample_indices, labels, void, ... of the wrapped data set
        return getattr(self.dataset, name)


def _groups_from_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise DatasetError(f"data.groups_file: not found: {path}")
    groups: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise DatasetError(f"data.groups_file: {path}:{number}: expected 'name group', "
                               f"got {line.strip()!r}")
        groups[Path(parts[0]).stem] = parts[1]
    return groups


def group_names(names: Sequence[str], data) -> list[str | None]:
    """Each sample's group (None: in no group) by the config's rule."""
    if data.groups_file:
        path = Path(data.groups_file).expanduser()
        by_name = _groups_from_file(path if path.is_absolute() else Path(data.root) / path)
        return [by_name.get(Path(name).stem) for name in names]
    return [name.split(data.group_separator, 1)[0] for name in names]


def hold_out(dataset, data):
    """(held-out groups, the rest) of a training split, as Subsets."""
    groups = group_names(dataset.names, data)
    found = sorted({g for g in groups if g is not None})
    unknown = [g for g in data.val_groups if g not in found]
    if unknown:
        rule = (f"groups_file {data.groups_file}" if data.groups_file
                else f"file-name prefix up to {data.group_separator!r}")
        shown = ", ".join(found[:20]) + (", ..." if len(found) > 20 else "")
        raise DatasetError(f"data.val_groups: no group {unknown[0]!r} in {data.train_split} "
                           f"(by {rule}); its groups: {shown}")
    held = np.array([g in data.val_groups for g in groups])
    if held.all():
        raise DatasetError(f"data.val_groups: {', '.join(data.val_groups)} hold every image of "
                           f"{data.train_split}; nothing is left to train on")
    named = ", ".join(data.val_groups)
    return (Subset(dataset, np.flatnonzero(held), f"held-out {named} of {data.train_split}"),
            Subset(dataset, np.flatnonzero(~held), f"{data.train_split} without {named}"))


def check_disjoint(train, val) -> None:
    """Refuse to validate on training images (the score would say nothing about new images)."""
    train_images = {str(Path(train.image_path(i)).resolve()) for i in range(len(train))}
    shared = [val.image_path(i) for i in range(len(val))
              if str(Path(val.image_path(i)).resolve()) in train_images]
    if shared:
        raise DatasetError(
            f"data: {len(shared)} of the {len(val)} validation images are training images too "
            f"(e.g. {shared[0]}); give disjoint train_split and val_split files, or hold out "
            f"groups with data.val_groups"
        )
