"""Batches for model.fit: a keras Sequence that reads, fits, augments and encodes samples in
parallel."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from training.augment import Transform
from training.config import DEFAULT_INPUT_SIZE
from training.datasets.common import DatasetError
from training.framework import keras
from training.targets import fit_to_input, targets


class IndexDataset(Protocol):
    classes: list[str]

    def __len__(self) -> int: ...
    def sample_indices(self, i: int) -> tuple[np.ndarray, np.ndarray]: ...
    def labels(self, index_mask: np.ndarray) -> np.ndarray: ...


class Loader(keras.utils.Sequence):
    """Batches `(B,H,W,3) float32` images and `(B,H,W,C+1) float32` targets (training.targets).

    Every sample is first scaled to fit `input_size` (so batches of any image sizes stack and
    memory is bounded), then augmented. `len` is `n // batch_size` (the last partial batch is
    dropped); order is reshuffled at the end of each epoch. Samples are read by a thread pool
    (OpenCV and NumPy release the GIL), and fitted samples can be kept in memory so later
    epochs skip decoding. A data set error is kept in `error` (Keras would bury it in a long
    TensorFlow traceback), so the caller can report it in one line.
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
        input_size: tuple[int, int] = DEFAULT_INPUT_SIZE,
    ):
        super().__init__()
        if len(dataset) < batch_size:
            raise ValueError(
                f"data set has {len(dataset)} samples, fewer than one batch of {batch_size}"
            )
        self.dataset = dataset
        self.n_classes = len(dataset.classes)
        self.batch_size = batch_size
        self.transform = transform
        self.preprocess = preprocess
        self.shuffle = shuffle
        self.input_size = input_size
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(dataset))
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loader")
        self.cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None
        self.cache_lock = threading.Lock()
        self.error: DatasetError | None = None
        if shuffle:
            self.rng.shuffle(self.order)

    def __len__(self) -> int:
        return len(self.dataset) // self.batch_size

    def _read(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        image, mask = self.dataset.sample_indices(i)
        return fit_to_input(image, self.dataset.labels(mask), self.input_size)

    def _fitted(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            return self._read(i)
        with self.cache_lock:
            hit = self.cache.get(i)
        if hit is None:
            hit = self._read(i)
            with self.cache_lock:
                self.cache[i] = hit
        return hit

    def sample(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """One (image, target) pair: fitted, augmented, encoded and preprocessed."""
        image, label_map = self._fitted(i)
        if self.transform is not None:
            image, label_map = self.transform(image, label_map)
        image = image.astype(np.float32)
        if self.preprocess is not None:
            image = self.preprocess(image)
        return image, targets(label_map, self.n_classes)

    def __getitem__(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= batch < len(self):
            raise IndexError(f"batch {batch} out of range 0..{len(self) - 1}")
        ids = self.order[batch * self.batch_size : (batch + 1) * self.batch_size]
        try:
            samples = list(self.pool.map(self.sample, ids))
        except DatasetError as error:
            self.error = self.error or error
            raise
        images = np.stack([s[0] for s in samples])
        masks = np.stack([s[1] for s in samples])
        return images, masks

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.rng.shuffle(self.order)

    def set_transform(self, transform: Transform | None) -> None:
        self.transform = transform
