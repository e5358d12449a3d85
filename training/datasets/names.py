"""The names a data set's classes give by the label rule (models.labels), for every data set."""

from __future__ import annotations

import numpy as np

from models import labels
from training.datasets.common import label_map


class ClassNames:
    """What a data set's `classes` give by the label rule (models.labels)."""

    classes: list[str]
    class_values: list[int]  # the raw mask value (or decoded colour code) of each class
    void: int | None  # the raw mask value that is void, if any

    def labels(self, index_mask: np.ndarray) -> np.ndarray:
        """A raw index mask from `sample_indices` as labels (models.labels), void labels.VOID."""
        return label_map(index_mask, self.class_values, self.void)

    @property
    def add_background(self) -> bool:
        """A last one-hot channel for every pixel of no chosen class (several classes only)."""
        return labels.has_background_channel(len(self.classes))

    @property
    def channel_names(self) -> list[str]:
        """Names of the one-hot channels, in order (background last when added)."""
        return labels.channel_names(self.classes)

    @property
    def output_classes(self) -> list[str]:
        return self.channel_names

    @property
    def label_names(self) -> list[str]:
        """Names by label value, as a bundle converted from this data lists them."""
        return labels.label_names(self.classes)
