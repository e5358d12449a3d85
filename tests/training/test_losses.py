"""The training loss: void pixels ignored, and weighted Dice never below 0."""

from __future__ import annotations

import numpy as np
import pytest

WEIGHTS = [0.3, 4.8, 8.8, 0.0]  # median-frequency style: they average 3.5, well above 1


def one_hot(labels: np.ndarray, n: int = 4) -> np.ndarray:
    out = np.eye(n, dtype=np.float32)[labels]
    out[labels == 0] = 0  # class 0 plays void here: an all-zero row
    return out


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(2, 8, 8))
    logits = rng.normal(size=(2, 8, 8, 4)).astype(np.float32)
    return one_hot(labels), logits


def _sm_masked(raw):
    """segmentation_models' loss as is, on predictions masked to the valid pixels as ours are."""
    from training.losses import _valid

    return lambda gt, pr: raw(gt, pr * _valid(gt))


def _loss_and_grad(loss, gt, logits):
    from training.framework import tf

    x = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = loss(tf.constant(gt), tf.nn.softmax(x))
    return float(value), tape.gradient(value, x).numpy()


@pytest.mark.parametrize("kind", ["dice", "dice+focal"])
def test_weighted_dice_is_not_negative_and_keeps_its_gradients(batch, kind):
    from training.config import TrainConfig
    from training.framework import sm
    from training.losses import build_loss

    gt, logits = batch
    config = TrainConfig(loss=kind)
    ours = build_loss(config, WEIGHTS)
    perfect = np.where(gt.sum(-1, keepdims=True) > 0, gt * 60.0 - 30.0, logits)
    value, _ = _loss_and_grad(ours, gt, perfect)
    assert value == pytest.approx(0.0, abs=1e-3)  # sm's own weighted Dice says 1 - 3.5 here

    value, grad = _loss_and_grad(ours, gt, logits)
    assert value > 0
    raw = sm.losses.DiceLoss(class_weights=WEIGHTS)
    if kind == "dice+focal":
        raw = raw + sm.losses.CategoricalFocalLoss()
    raw_value, raw_grad = _loss_and_grad(_sm_masked(raw), gt, logits)
    assert value == pytest.approx(raw_value + np.mean(WEIGHTS) - 1, abs=1e-5)
    np.testing.assert_allclose(grad, raw_grad, atol=1e-7)


def test_unweighted_losses_are_unchanged(batch):
    from training.config import TrainConfig
    from training.framework import sm
    from training.losses import build_loss

    gt, logits = batch
    value, _ = _loss_and_grad(build_loss(TrainConfig(loss="dice"), None), gt, logits)
    raw_value, _ = _loss_and_grad(_sm_masked(sm.losses.DiceLoss()), gt, logits)
    assert value == pytest.approx(raw_value, abs=1e-6)
