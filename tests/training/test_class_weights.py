"""class_weights: auto, SegNet's median-frequency balancing, and its softening power."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.training.conftest import write_tiny_camvid

CLASSES = ["sky", "building", "road", "car"]
CAMVID_IDS = [0, 1, 3, 8]  # the tiny tree's CamVid indices of CLASSES; 11 is void


def expected_weights(root) -> np.ndarray:
    """The balancing counted here from the mask files themselves: a class's frequency is its
    pixels over the labelled pixels of the images it appears in; weight = median / frequency."""
    counts = np.zeros(len(CLASSES))
    present = np.zeros(len(CLASSES))
    for path in sorted((root / "trainannot").glob("*.png")):
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        labelled = (mask != 11).sum()
        for k, index in enumerate(CAMVID_IDS):
            pixels = (mask == index).sum()
            counts[k] += pixels
            present[k] += labelled if pixels else 0
    frequency = counts / present
    return np.median(frequency) / frequency


@pytest.fixture
def train_set(tmp_path):
    from training.config import Config
    from training.datasets import open_dataset

    root = write_tiny_camvid(tmp_path / "CamVid")
    config = Config.model_validate(
        {"data": {"dataset": "camvid", "root": str(root), "classes": CLASSES}})
    return root, open_dataset(config.data, "train"), config.n_outputs


def test_median_frequency_and_its_softened_form(train_set):
    from training.train import median_frequency_weights

    root, dataset, n_outputs = train_set
    assert n_outputs == len(CLASSES) + 1  # the background channel: no pixel of it here
    full = expected_weights(root)
    assert full[CLASSES.index("car")] > 3 > 1 > full[CLASSES.index("building")]

    weights = median_frequency_weights(dataset, n_outputs)
    np.testing.assert_allclose(weights[:-1], full, atol=1e-4)
    assert weights[-1] == 0.0  # a channel never seen weighs nothing

    soft = median_frequency_weights(dataset, n_outputs, power=0.5)
    np.testing.assert_allclose(soft[:-1], np.sqrt(full), atol=1e-4)
    assert soft[CLASSES.index("car")] < weights[CLASSES.index("car")]
    assert soft[CLASSES.index("building")] > weights[CLASSES.index("building")]

    flat = median_frequency_weights(dataset, n_outputs, power=0.0)
    assert flat == [1.0] * len(CLASSES) + [0.0]


def test_power_outside_zero_to_one_is_refused():
    from pydantic import ValidationError

    from training.config import Config

    with pytest.raises(ValidationError, match="class_weight_power"):
        Config.model_validate({"train": {"class_weight_power": 2}})


def test_the_default_power_is_the_recipes_and_needs_no_auto(tmp_path):
    """0.5 unless set; equal weights (null) still load, and so does the resolved config.yaml a
    run writes for them (with the default power in it), which --resume and convert read back."""
    from training.config import Config, dump_config, load_config

    data = {"dataset": "camvid", "root": "CamVid", "classes": CLASSES}
    assert Config.model_validate({"data": data}).train.class_weight_power == 0.5
    config = Config.model_validate({"data": data, "train": {"class_weights": None}})
    assert config.train.class_weights is None
    dump_config(config, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert again.train.class_weights is None and again.train.class_weight_power == 0.5
