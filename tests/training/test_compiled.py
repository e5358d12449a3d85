"""The training step is traced once: every variable it uses exists before the first step (a
first trace that creates variables makes tf.function trace the step again)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("n_classes", [3, 1])  # softmax channels + background; one sigmoid
def test_the_training_step_is_traced_once(n_classes: int) -> None:
    from models import labels
    from training.compiled import compile_for_training
    from training.config import TrainConfig
    from training.framework import keras
    from training.losses import build_loss, build_metrics
    from training.targets import targets

    channels = labels.output_channels(n_classes)
    model = keras.Sequential([
        keras.layers.Input((None, None, 3)),
        keras.layers.Conv2D(8, 3, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.Conv2D(channels, 1, activation="softmax" if channels > 1 else "sigmoid"),
    ])
    compile_for_training(model, keras.optimizers.Adam(1e-3),
                         build_loss(TrainConfig(), None, n_classes), build_metrics(n_classes),
                         n_classes)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (4, 16, 16, 3)).astype(np.float32)
    label_map = rng.integers(0, labels.label_count(n_classes), (4, 16, 16)).astype(np.uint8)
    label_map[:, 0, 0] = labels.VOID
    y = targets(label_map, n_classes)
    history = model.fit(images, y, batch_size=2, epochs=2, verbose=0)
    assert model.train_function.experimental_get_tracing_count() == 1
    assert np.isfinite(history.history["loss"]).all() and set(history.history) >= {
        "loss", "miou", "iou_score", "f1_score"}
