"""What each replica reads: pieces of the one-device batches, each sample once an epoch, the same
on every run (order and augmentation seeded by epoch and sample)."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pytest

from training.augment import train_transform
from training.config import AugmentConfig
from training.datasets import CamVid
from training.loader import Loader

TINY = (64, 96)
CLASSES = ["sky", "building", "road", "car"]


class CountingReads:
    """A real data set that counts how often each sample is read from disk."""

    def __init__(self, dataset: CamVid):
        self.dataset, self.classes = dataset, dataset.classes
        self.reads: Counter[int] = Counter()
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.dataset)

    def sample_indices(self, i: int):
        with self.lock:
            self.reads[int(i)] += 1
        return self.dataset.sample_indices(i)

    def labels(self, mask):
        return self.dataset.labels(mask)


def _loader(root, dataset=None, batch_size: int = 4) -> Loader:
    augment = AugmentConfig(crop=(64, 64))
    return Loader(dataset or CamVid(root, "train", CLASSES), batch_size,
                  train_transform(augment, input_size=TINY), shuffle=True, workers=2,
                  cache=False, seed=7, input_size=TINY)


def _read(loader: Loader, pipelines: int, pipeline: int, replicas: int, epochs: list[int]):
    from training.distribute import replica_batches
    from training.framework import tf

    context = tf.distribute.InputContext(pipelines, pipeline, replicas)
    return [(x.numpy(), y.numpy()) for x, y in replica_batches(loader, context, epochs)]


def test_two_workers_read_each_sample_once_an_epoch(tiny_camvid):
    counting = CountingReads(CamVid(tiny_camvid, "train", CLASSES))
    loader = _loader(tiny_camvid, counting)
    first = _read(loader, 2, 0, 2, [0])
    assert len(first) == 2 and first[0][0].shape == (2, 64, 64, 3)  # 2 steps, 2 of 4 images
    read_by_first = set(counting.reads)
    second = _read(loader, 2, 1, 2, [0])
    assert len(second) == 2
    assert read_by_first.isdisjoint(set(counting.reads) - read_by_first)
    assert counting.reads == Counter({i: 1 for i in range(8)})  # 8 samples, 2 steps of 4


@pytest.mark.parametrize(("pipelines", "replicas"), [(2, 2), (1, 2), (2, 4)])
def test_the_replicas_pieces_make_the_one_device_batches(tiny_camvid, pipelines, replicas):
    """Workers x local replicas (2 hosts of 1, 1 host of 2 GPUs, 2 hosts of 2) cut the same
    global batches one device trains on: same images, same augmentation."""
    epochs = [0, 1]
    single = _read(_loader(tiny_camvid), 1, 0, 1, epochs)
    parts = [_read(_loader(tiny_camvid), pipelines, k, replicas, epochs)
             for k in range(pipelines)]
    local = replicas // pipelines
    for step, (images, targets) in enumerate(single):
        pieces = [parts[k][step * local + r] for k in range(pipelines) for r in range(local)]
        np.testing.assert_array_equal(np.concatenate([p[0] for p in pieces]), images)
        np.testing.assert_array_equal(np.concatenate([p[1] for p in pieces]), targets)


def test_batches_are_a_function_of_epoch_and_step(tiny_camvid):
    """Two loaders, one reading backwards: the same batch for the same (epoch, step), with
    augmentation; another epoch is another order and other augmentations."""
    forward, backward = _loader(tiny_camvid), _loader(tiny_camvid)
    ids = forward.batch_ids(0, 1)
    np.testing.assert_array_equal(ids, backward.batch_ids(0, 1))
    later = backward.read_batch(backward.batch_ids(0, 0), 0)
    a, b = forward.read_batch(ids, 0), backward.read_batch(ids, 0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(forward.read_batch(forward.batch_ids(0, 0), 0)[0], later[0])
    assert not np.array_equal(forward.epoch_order(0), forward.epoch_order(1))
    assert not np.array_equal(forward.read_batch(ids, 1)[0], a[0])  # same samples, new draws
