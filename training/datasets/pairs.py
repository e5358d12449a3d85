"""What every data set does once it knows its samples' image and mask paths: read a sample as a
checked pair, its void pixels, its one-hot encoding (CamVid, VOC and Folder share it)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from training.datasets.common import check_pair, one_hot, read_index_mask, read_rgb
from training.datasets.names import ClassNames


class ImageMaskPairs(ClassNames, ABC):
    """A subclass sets `ids` (each sample's name) and gives `image_path(i)` and `mask_path(i)`;
    `_read_mask(i)` reads an index mask file as is unless the data set decodes its own."""

    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def names(self) -> list[str]:
        """Each sample's name (its file stem or id), as groups and split files name it."""
        return list(self.ids)

    @abstractmethod
    def image_path(self, i: int) -> Path: ...

    @abstractmethod
    def mask_path(self, i: int) -> Path: ...

    def _read_mask(self, i: int) -> np.ndarray:
        return read_index_mask(self.mask_path(i))

    def _index(self, i: int) -> int:
        n = len(self.ids)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} samples")
        return i % n

    def sample_indices(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(image (H,W,3) uint8 RGB, raw index mask (H,W) uint8), checked as a pair."""
        i = self._index(i)
        image = read_rgb(self.image_path(i))
        mask = self._read_mask(i)
        check_pair(self.image_path(i), self.mask_path(i), image, mask)
        return image, mask

    def void_mask(self, i: int) -> np.ndarray:
        """(H, W) bool: True where the ground truth is void (all False without a void)."""
        mask = self._read_mask(self._index(i))
        if self.void is None:
            return np.zeros(mask.shape, dtype=bool)
        return mask == self.void

    def encode(self, index_mask: np.ndarray) -> np.ndarray:
        """One-hot encode an index mask from `sample_indices` (void all zeros)."""
        return one_hot(index_mask, self.class_values, self.add_background, void=self.void)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        image, mask = self.sample_indices(i)
        return image, self.encode(mask)
