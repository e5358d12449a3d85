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
    dropped). What a batch holds is a function of the epoch and the step alone: the order of an
    epoch is a permutation seeded by (seed, epoch), and each sample's augmentation is seeded by
    (seed, epoch, index), so a run is reproducible, a resumed run sees the epochs an unbroken
    one would, and workers that each read a piece of the same global batch agree on it without
    talking (`batch_ids`). Samples are read by a thread pool (OpenCV and NumPy release the GIL),
    and fitted samples can be kept in memory so later epochs skip decoding. A data set error is
    kept in `error` (Keras would bury it in a long TensorFlow traceback), so the caller can
    report it in one line.

    As a keras Sequence it serves `epoch`, which `on_epoch_end` advances.
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
        self.seed = seed
        self.epoch = 0
        self._orders: dict[int, np.ndarray] = {}
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loader")
        self.cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None
        self.cache_lock = threading.Lock()
        self.error: DatasetError | None = None

    def __len__(self) -> int:
        return len(self.dataset) // self.batch_size

    @property
    def order(self) -> np.ndarray:
        """The sample order of the current `epoch`."""
        return self.epoch_order(self.epoch)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """Sample indices in the order `epoch` reads them (the same on every worker)."""
        order = self._orders.get(epoch)
        if order is None:
            n = len(self.dataset)
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            self._orders = {epoch: order}  # epochs are read one after the other
        return order

    def batch_ids(self, epoch: int, step: int, piece: int = 0, pieces: int = 1) -> np.ndarray:
        """Sample indices of one of `pieces` equal parts of the global batch `step` of `epoch`:
        replicas (and the workers that feed them) each read their own part, so no sample is
        read twice and together they read the batch one device would."""
        if self.batch_size % pieces:
            raise ValueError(f"a batch of {self.batch_size} does not split into {pieces} parts")
        size = self.batch_size // pieces
        start = step * self.batch_size + piece * size
        return self.epoch_order(epoch)[start : start + size]

    def sample_seed(self, epoch: int, i: int) -> int:
        return int(np.random.SeedSequence([self.seed, epoch, int(i)]).generate_state(1)[0])

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

    def sample(self, i: int, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One (image, target) pair: fitted, augmented, encoded and preprocessed."""
        image, label_map = self._fitted(i)
        if self.transform is not None:
            image, label_map = self.transform(image, label_map, seed=seed)
        image = image.astype(np.float32)
        if self.preprocess is not None:
            image = self.preprocess(image)
        return image, targets(label_map, self.n_classes)

    def read_batch(self, ids: np.ndarray, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The samples `ids` of `epoch`, stacked."""
        try:
            samples = list(self.pool.map(lambda i: self.sample(i, self.sample_seed(epoch, i)),
                                         ids))
        except DatasetError as error:
            self.error = self.error or error
            raise
        images = np.stack([s[0] for s in samples])
        masks = np.stack([s[1] for s in samples])
        return images, masks

    def __getitem__(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= batch < len(self):
            raise IndexError(f"batch {batch} out of range 0..{len(self) - 1}")
        return self.read_batch(self.batch_ids(self.epoch, batch), self.epoch)

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def set_transform(self, transform: Transform | None) -> None:
        self.transform = transform
