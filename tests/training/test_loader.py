from __future__ import annotations

import numpy as np

from training.augment import PAD, eval_transform, train_transform
from training.config import AugmentConfig
from training.datasets import CamVid
from training.loader import Loader


def test_batches_shapes_len_and_reshuffle(tiny_camvid):
    ds = CamVid(tiny_camvid, "train", ["sky", "road", "car"])
    loader = Loader(ds, batch_size=3, transform=eval_transform(), shuffle=True, seed=1)
    assert len(loader) == 8 // 3  # the last partial batch is dropped
    images, masks = loader[0]
    assert images.shape == (3, 64, 96, 3) and images.dtype == np.float32
    assert masks.shape == (3, 64, 96, 4)
    first = loader.order.copy()
    loader.on_epoch_end()
    assert sorted(loader.order) == list(range(8)) and not np.array_equal(first, loader.order)


def test_augmentation_keeps_image_and_mask_aligned(tiny_camvid):
    ds = CamVid(tiny_camvid, "train", ["sky", "building", "road", "car"])
    transform = train_transform(AugmentConfig(crop=(64, 64), color_jitter=0.0))
    loader = Loader(ds, batch_size=1, transform=transform, shuffle=False)
    for i in range(8):
        image, mask = loader.sample(i)
        assert image.shape == (64, 64, 3) and mask.shape == (64, 64, 5)
        road = mask[..., 2] == 1
        sky = mask[..., 0] == 1
        # colours were drawn per class: road pixels stay road-coloured after the geometric warp
        if road.sum() > 50 and sky.sum() > 50:
            assert image[road][:, 1].mean() < image[sky][:, 1].mean()


def test_padding_is_void(tiny_camvid):
    ds = CamVid(tiny_camvid, "val")
    image, mask = ds.sample_indices(0)
    padded_image, padded_mask = eval_transform()(image, mask)
    assert padded_image.shape == (64, 96, 3)  # already multiples of 32
    odd = image[:50, :70]
    padded_image, padded_mask = eval_transform()(odd, mask[:50, :70])
    assert padded_image.shape == (64, 96, 3) and (padded_mask[50:] == PAD).all()
    loader = Loader(ds, batch_size=1, transform=lambda i, m: eval_transform()(i[:50, :70], m[:50, :70]),
                    shuffle=False)
    _, onehot = loader[0]
    assert onehot[0, 50:].sum() == 0 and onehot[0, :50, :70].sum() > 0


def test_full_image_phase_pads_instead_of_cropping():
    config = AugmentConfig(crop=(64, 64), color_jitter=0.0)
    image = np.zeros((100, 130, 3), np.uint8)
    mask = np.zeros((100, 130), np.uint8)
    cropped, _ = train_transform(config)(image, mask)
    whole, whole_mask = train_transform(config, crop=None)(image, mask)
    assert cropped.shape[:2] == (64, 64)
    assert whole.shape[:2] == whole_mask.shape == (128, 160)  # padded to a multiple of 32
