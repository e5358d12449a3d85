from __future__ import annotations

import numpy as np

from models.labels import VOID
from training.augment import PAD, eval_transform, train_transform
from training.config import AugmentConfig
from training.datasets import CamVid
from training.loader import Loader

TINY = (64, 96)  # the tiny CamVid's own size: fitting changes nothing


def test_batches_shapes_len_and_reshuffle(tiny_camvid):
    ds = CamVid(tiny_camvid, "train", ["sky", "road", "car"])
    loader = Loader(ds, batch_size=3, transform=eval_transform(TINY), shuffle=True, seed=1,
                    input_size=TINY)
    assert len(loader) == 8 // 3  # the last partial batch is dropped
    images, targets = loader[0]
    assert images.shape == (3, 64, 96, 3) and images.dtype == np.float32
    assert targets.shape == (3, 64, 96, 5)  # sky, road, car, background + the valid channel
    first = loader.order.copy()
    loader.on_epoch_end()
    assert sorted(loader.order) == list(range(8)) and not np.array_equal(first, loader.order)


def test_targets_carry_void_apart_from_background(tiny_camvid):
    ds = CamVid(tiny_camvid, "train", ["sky", "road", "car"])
    loader = Loader(ds, batch_size=1, transform=None, shuffle=False, input_size=TINY)
    _, target = loader.sample(0)
    _, raw = ds.sample_indices(0)
    valid = target[..., -1] == 1
    np.testing.assert_array_equal(~valid, raw == 11)  # unlabelled: void, no channel set
    assert (target[~valid, :-1] == 0).all()
    np.testing.assert_array_equal(target[..., 3] == 1, valid & ~np.isin(raw, [0, 3, 8]))


def test_augmentation_keeps_image_and_mask_aligned(tiny_camvid):
    ds = CamVid(tiny_camvid, "train", ["sky", "building", "road", "car"])
    transform = train_transform(AugmentConfig(crop=(64, 64), color_jitter=0.0, photometric=0.0),
                                input_size=TINY)
    loader = Loader(ds, batch_size=1, transform=transform, shuffle=False, input_size=TINY)
    for i in range(8):
        image, mask = loader.sample(i)
        assert image.shape == (64, 64, 3) and mask.shape == (64, 64, 6)
        road = mask[..., 2] == 1
        sky = mask[..., 0] == 1
        # colours were drawn per class: road pixels stay road-coloured after the geometric warp
        if road.sum() > 50 and sky.sum() > 50:
            assert image[road][:, 1].mean() < image[sky][:, 1].mean()


def test_padding_to_the_input_is_void(tiny_camvid):
    ds = CamVid(tiny_camvid, "val")
    image, mask = ds.sample_indices(0)
    labels = ds.labels(mask)
    padded_image, padded_mask = eval_transform(TINY)(image, labels)
    assert padded_image.shape == (64, 96, 3)  # already the input size
    odd = image[:50, :70]
    padded_image, padded_mask = eval_transform(TINY)(odd, labels[:50, :70])
    assert padded_image.shape == (64, 96, 3) and (padded_mask[50:] == PAD).all()
    assert PAD == VOID
    loader = Loader(ds, batch_size=1, transform=eval_transform((32, 32)), shuffle=False,
                    input_size=(32, 32))  # 64x96 fits 32x32 as 21x32: bottom rows are padding
    _, target = loader[0]
    assert target.shape == (1, 32, 32, 13)
    assert target[0, 21:].sum() == 0 and target[0, :21, :, -1].mean() > 0.9


def test_images_of_any_size_batch_together(tmp_path):
    """Mixed sizes (portrait, landscape, tiny, large) fit the input and stack into one batch."""
    import cv2

    from training.datasets.folder import Folder

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for i, (h, w) in enumerate([(68, 91), (300, 120), (96, 500), (700, 900)]):
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4 : h // 2, w // 4 : w // 2] = 1
        cv2.imwrite(str(tmp_path / "images" / f"{i}.jpg"), np.full((h, w, 3), 90, np.uint8))
        cv2.imwrite(str(tmp_path / "masks" / f"{i}.png"), mask)
    ds = Folder(tmp_path / "images", tmp_path / "masks", classes=["box"])
    loader = Loader(ds, batch_size=4, transform=eval_transform((96, 128)), shuffle=False,
                    input_size=(96, 128), cache=True)
    images, targets = loader[0]
    assert images.shape == (4, 96, 128, 3) and targets.shape == (4, 96, 128, 2)
    assert all(image.shape[0] <= 96 and image.shape[1] <= 128
               for image, _ in loader.cache.values())  # memory bounded by the input size
    assert targets[..., 0].sum() > 0 and (targets[..., 1] == 0).any()  # class; padding void


def test_full_image_phase_pads_to_the_input_instead_of_cropping():
    config = AugmentConfig(crop=(64, 64), color_jitter=0.0)
    image = np.zeros((100, 130, 3), np.uint8)
    mask = np.zeros((100, 130), np.uint8)
    cropped, _ = train_transform(config, input_size=(128, 160))(image, mask)
    whole, whole_mask = train_transform(config, crop=None, input_size=(128, 160))(image, mask)
    assert cropped.shape[:2] == (64, 64)
    assert whole.shape[:2] == whole_mask.shape == (128, 160)  # padded to the input size
    assert (whole_mask[100:] == PAD).all() and (whole_mask[:, 130:] == PAD).all()


def test_photometric_augmentation_changes_the_light_and_never_the_labels():
    """Strength 1 spans dusk to glare and keeps every label; 0 leaves the light alone."""
    import albumentations as A

    from training.augment import photometric_steps

    rng = np.random.default_rng(0)
    image = rng.integers(60, 200, size=(64, 96, 3), dtype=np.uint8)
    mask = rng.integers(0, 5, size=(64, 96), dtype=np.uint8)

    def brightness(config: AugmentConfig) -> list[float]:
        transform = train_transform(config, input_size=(64, 96))
        ratios = []
        for _ in range(60):
            out_image, out_mask = transform(image, mask)
            inside = out_mask != PAD  # the geometric steps pad some pixels
            ratios.append(out_image[inside].mean() / image.mean())
        return ratios

    geometry_only = dict(crop=None, color_jitter=0.0)
    plain = brightness(AugmentConfig(**geometry_only, photometric=0.0))
    assert min(plain) > 0.95 and max(plain) < 1.05, (min(plain), max(plain))
    strong = brightness(AugmentConfig(**geometry_only, photometric=1.0))
    assert min(strong) < 0.75 and max(strong) > 1.2, (min(strong), max(strong))

    light_only = A.Compose(photometric_steps(1.0))
    for _ in range(20):
        np.testing.assert_array_equal(light_only(image=image, mask=mask)["mask"], mask)
