"""CamVid reader on the real data set files."""

from __future__ import annotations

import numpy as np
import pytest

from training.datasets import CamVid, DatasetError


def test_full_class_set_on_real_files(camvid_root):
    ds = CamVid(camvid_root, "train")
    assert len(ds) == 367
    image, mask = ds[0]
    assert image.shape == (360, 480, 3) and image.dtype == np.uint8
    assert mask.shape == (360, 480, 12) and mask.dtype == np.float32
    _, indices = ds.sample_indices(0)
    # every labelled pixel has exactly one channel; unlabelled (11) has none, not background
    per_pixel = mask.sum(axis=-1)
    assert np.array_equal(per_pixel == 0, indices == 11)
    assert per_pixel.max() == 1
    assert mask[..., 11].sum() == 0  # all 11 classes chosen: nothing is left for background
    assert np.array_equal(mask[..., 3] == 1, indices == 3)  # road channel is the road pixels


def test_class_subset_adds_background_last(camvid_root):
    ds = CamVid(camvid_root, "val", ["car", "pedestrian"])
    assert ds.output_classes == ["car", "pedestrian", "background"]
    _, mask = ds[0]
    _, indices = ds.sample_indices(0)
    assert mask.shape[-1] == 3
    assert np.array_equal(mask[..., 0] == 1, indices == 8)
    assert np.array_equal(mask[..., 2] == 1, ~np.isin(indices, [8, 9, 11]))


def test_lazy_and_clear_errors(camvid_root, tmp_path):
    with pytest.raises(DatasetError, match="unknown CamVid class 'cat'"):
        CamVid(camvid_root, "train", ["cat"])
    with pytest.raises(DatasetError, match="CamVid folder not found: .*test"):
        CamVid(tmp_path, "test")


def test_missing_mask_names_the_file(tiny_camvid):
    ds = CamVid(tiny_camvid, "train")
    ds.masks[1].unlink()
    ds[0]
    with pytest.raises(DatasetError, match="seq_00001.png"):
        ds[1]


def test_held_out_drives_leave_the_training_split(camvid_root):
    """Issue 18: validate on whole drives taken out of CamVid's train split (file-name prefix)."""
    from training.checks import preflight
    from training.config import Config
    from training.datasets import open_dataset

    config = Config.model_validate({"data": {
        "dataset": "camvid", "root": str(camvid_root), "classes": ["road", "car"],
        "val_groups": ["0006R0"], "check_samples": 4}})
    held = open_dataset(config.data, "heldout")
    kept = open_dataset(config.data, "train")
    assert len(held) == 101 and len(kept) == 62 + 204
    assert {name.split("_")[0] for name in held.names} == {"0006R0"}
    assert {name.split("_")[0] for name in kept.names} == {"0001TP", "0016E5"}
    train_set, val_set = preflight(config)  # what training validates on
    assert val_set.names == held.names and len(train_set) == 266
    image, mask = val_set.sample_indices(0)
    assert image.shape == (360, 480, 3) and val_set.image_path(0).name.startswith("0006R0_")

    unknown = config.model_copy(update={"data": config.data.model_copy(
        update={"val_groups": ["0005VD"]})})
    with pytest.raises(DatasetError, match=r"no group '0005VD' in train .* 0001TP, 0006R0, "
                                           r"0016E5"):
        open_dataset(unknown.data, "heldout")
