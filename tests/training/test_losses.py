"""The training loss: void pixels ignored (the target's valid channel), weighted Dice never
below 0, one class learning its background, and the mIoU metric against evaluation's."""

from __future__ import annotations

import numpy as np
import pytest

WEIGHTS = [0.3, 4.8, 8.8, 0.0]  # median-frequency style: they average 3.5, well above 1


def one_hot(labels: np.ndarray, n: int = 4) -> np.ndarray:
    """Targets: one-hot channels then the valid channel; label 0 plays void here."""
    out = np.eye(n, dtype=np.float32)[labels]
    out[labels == 0] = 0
    return np.concatenate([out, (labels != 0)[..., None].astype(np.float32)], axis=-1)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(2, 8, 8))
    logits = rng.normal(size=(2, 8, 8, 4)).astype(np.float32)
    return one_hot(labels), logits


def _sm_masked(raw, truth_only=None):
    """segmentation_models' loss as is, on predictions masked to the valid pixels as ours are
    (the cross-entropy `truth_only` sees the truth masked only: its void rows are zero)."""
    if truth_only is not None:
        return lambda y, pr: raw(y[..., :-1], pr * y[..., -1:]) + truth_only(y[..., :-1], pr)
    return lambda y, pr: raw(y[..., :-1], pr * y[..., -1:])


def _loss_and_grad(loss, gt, logits):
    from training.framework import tf

    x = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = loss(tf.constant(gt), tf.nn.softmax(x))
    return float(value), tape.gradient(value, x).numpy()


@pytest.mark.parametrize("kind", ["dice", "dice+focal", "dice+crossentropy"])
def test_weighted_dice_is_not_negative_and_keeps_its_gradients(batch, kind):
    from training.config import TrainConfig
    from training.framework import sm
    from training.losses import build_loss

    gt, logits = batch
    config = TrainConfig(loss=kind)
    ours = build_loss(config, WEIGHTS)
    perfect = np.where(gt[..., -1:] > 0, gt[..., :-1] * 60.0 - 30.0, logits)
    value, _ = _loss_and_grad(ours, gt, perfect)
    assert value == pytest.approx(0.0, abs=1e-3)  # sm's own weighted Dice says 1 - 3.5 here

    value, grad = _loss_and_grad(ours, gt, logits)
    assert value > 0
    raw = sm.losses.DiceLoss(class_weights=WEIGHTS)
    if kind == "dice+focal":
        raw = raw + sm.losses.CategoricalFocalLoss()
    cce = None
    if kind == "dice+crossentropy":  # the weights reach the cross-entropy too (class-balanced)
        cce = sm.losses.CategoricalCELoss(class_weights=WEIGHTS)
    raw_value, raw_grad = _loss_and_grad(_sm_masked(raw, cce), gt, logits)
    assert value == pytest.approx(raw_value + np.mean(WEIGHTS) - 1, abs=1e-5)
    np.testing.assert_allclose(grad, raw_grad, atol=1e-7)


def test_class_balanced_crossentropy_weighs_a_thin_class_pixel_more(batch):
    """The same wrong pixel costs more in a heavy-weighted (rare, thin) class than in a common
    one, and without weights both cost the same."""
    from training.config import TrainConfig
    from training.losses import build_loss

    labels = np.ones((1, 4, 4), np.int64)  # class 1 everywhere (weight 4.8) ...
    labels[0, 0, 0] = 2  # ... but one pixel of class 2 (weight 8.8)
    gt = one_hot(labels)
    wrong = np.where(gt[..., :-1] > 0, 3.0, 0.0).astype(np.float32)  # right everywhere ...

    def cost(weights, pixel) -> float:
        logits = wrong.copy()
        if pixel is not None:
            logits[(0, *pixel)] = [0.0, 0.0, 0.0, 3.0]  # ... except this pixel says class 3
        loss = build_loss(TrainConfig(loss="crossentropy"), weights)
        return _loss_and_grad(loss, gt, logits)[0]

    right = cost(WEIGHTS, None)  # the other pixels' small cost, the same in both
    assert cost(WEIGHTS, (0, 0)) - right > 1.5 * (cost(WEIGHTS, (1, 1)) - right)  # 8.8 / 4.8
    assert cost(None, (0, 0)) == pytest.approx(cost(None, (1, 1)), rel=1e-5)


def test_crossentropy_is_finite_where_pixels_are_void(batch):
    """The categorical form renormalises the prediction: on a zeroed void row that was 0/0."""
    from training.config import TrainConfig
    from training.losses import build_loss

    gt, logits = batch
    assert (gt[..., -1] == 0).any()  # the batch has void pixels
    for kind in ("crossentropy", "dice+crossentropy"):
        value, grad = _loss_and_grad(build_loss(TrainConfig(loss=kind), WEIGHTS), gt, logits)
        assert np.isfinite(value) and value > 0 and np.isfinite(grad).all(), kind


def test_unweighted_losses_are_unchanged(batch):
    from training.config import TrainConfig
    from training.framework import sm
    from training.losses import build_loss

    gt, logits = batch
    value, _ = _loss_and_grad(build_loss(TrainConfig(loss="dice"), None), gt, logits)
    raw_value, _ = _loss_and_grad(_sm_masked(sm.losses.DiceLoss()), gt, logits)
    assert value == pytest.approx(raw_value, abs=1e-6)


def test_one_class_background_counts_and_void_does_not():
    """One sigmoid channel: a background pixel predicted as the class raises the loss (it used
    to be void, so predicting the class everywhere cost nothing); a void pixel changes nothing."""
    from training.config import TrainConfig
    from training.framework import tf
    from training.losses import build_loss
    from training.targets import targets

    label_map = np.zeros((1, 8, 8), np.uint8)
    label_map[0, :4] = 1  # the class in the top half, background below
    label_map[0, 7, 7] = 255  # one void pixel
    y = tf.constant(targets(label_map, 1))
    right = np.where(label_map[..., None] == 1, 0.99, 0.01).astype(np.float32)
    everywhere = np.full_like(right, 0.99)
    void_flipped = right.copy()
    void_flipped[0, 7, 7] = 0.99
    for kind in ("dice", "focal", "dice+focal", "crossentropy"):
        loss = build_loss(TrainConfig(loss=kind), None, n_classes=1)
        good = float(loss(y, tf.constant(right)))
        assert float(loss(y, tf.constant(everywhere))) > good + 0.05, kind
        assert float(loss(y, tf.constant(void_flipped))) == pytest.approx(good, abs=1e-6), kind


def test_miou_metric_is_one_confusion_matrix_as_evaluation_scores_it():
    from training.evaluate import confusion_matrix, scores_from_confusion
    from training.framework import tf
    from training.losses import ConfusionMIoU
    from training.targets import targets

    rng = np.random.default_rng(1)
    metric = ConfusionMIoU(n_classes=1)
    matrix = np.zeros((2, 2), np.int64)
    for _ in range(3):  # three batches, one matrix
        truth = rng.integers(0, 2, size=(2, 16, 16)).astype(np.uint8)
        truth[rng.random(truth.shape) < 0.1] = 255
        prob = rng.random((2, 16, 16, 1)).astype(np.float32)
        metric.update_state(tf.constant(targets(truth, 1)), tf.constant(prob))
        t = truth.astype(np.int64)
        t[truth == 255] = -1
        matrix += confusion_matrix(t, (prob[..., 0] > 0.5).astype(np.int64), 2)
    expected = scores_from_confusion(matrix, ["background", "thing"]).miou
    assert float(metric.result()) == pytest.approx(expected, abs=1e-9)
    # a model that predicts the class everywhere scores low: background IoU 0, class IoU ~0.5
    metric.reset_state()
    truth = rng.integers(0, 2, size=(1, 16, 16)).astype(np.uint8)
    metric.update_state(tf.constant(targets(truth, 1)), tf.ones((1, 16, 16, 1)))
    assert float(metric.result()) < 0.3
