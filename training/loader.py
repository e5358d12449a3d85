"""Batches for model.fit: a keras Sequence that reads, augments and encodes samples in parallel."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from training.augment import PAD, Transform
from training.framework import keras


class IndexDataset(Protocol):
    def __len__(self) -> int: ...
    def sample_indices(self, i: int) -> tuple[np.ndarray, np.ndarray]: ...
    def encode(self, index_mask: np.ndarray) -> np.ndarray: ...


class Loader(keras.utils.Sequence):
    """Batches `(B,H,W,3) float32` images and `(B,H,W,N) float32` one-hot masks.

    `len` is `n // batch_size` (the last partial batch is dropped); order is reshuffled at the end
    of each epoch. Samples are read and augmented by a thread pool (OpenCV and NumPy release the
    GIL), and decoded samples can be kept in memory so later epochs skip PNG decoding.
    """

    def __init__(
        self,
        dataset: IndexDataset,
        batch_size: int,
        transform: Transform | None = None,
        preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
        shuffle: bool = True,
        workers: int = 2,
        cache: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        if len(dataset) < batch_size:
            raise ValueError(
                f"data set has {len(dataset)} samples, fewer than one batch of {batch_size}"
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.transform = transform
        self.preprocess = preprocess
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(dataset))
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loader")
        self.cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None
        self.cache_lock = threading.Lock()
        if shuffle:
            self.rng.shuffle(self.order)

    def __len__(self) -> int:
        return len(self.dataset) // self.batch_size

    def _raw(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            return self.dataset.sample_indices(i)
        with self.cache_lock:
            hit = self.cache.get(i)
        if hit is None:
            hit = self.dataset.sample_indices(i)
            with self.cache_lock:
                self.cache[i] = hit
        return hit

    def sample(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        image, mask = self._raw(i)
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        onehot = self.dataset.encode(mask)
        onehot[mask == PAD] = 0  # padding is void: no channel is set
        image = image.astype(np.float32)
        if self.preprocess is not None:
            image = self.preprocess(image)
        return image, onehot

    def __getitem__(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= batch < len(self):
            raise IndexError(f"batch {batch} out of range 0..{len(self) - 1}")
        ids = self.order[batch * self.batch_size : (batch + 1) * self.batch_size]
        samples = list(self.pool.map(self.sample, ids))
        images = np.stack([s[0] for s in samples])
        masks = np.stack([s[1] for s in samples])
        return images, masks

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.rng.shuffle(self.order)

    def set_transform(self, transform: Transform | None) -> None:
        self.transform = transform
