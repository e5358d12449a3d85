"""Validation during training is not silent: a line every few validation batches and at the
last one, with the pace (the training batches have Keras' bar, or a line every 10 in a log)."""

from __future__ import annotations

import logging

import numpy as np


def test_a_line_every_few_validation_batches_and_at_the_last(caplog, capsys) -> None:
    from training.framework import keras
    from training.progress import ValidationProgress

    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(1, 3, padding="same")])
    model.compile(loss="mse")
    x, y = np.zeros((7, 8, 8, 3), np.float32), np.zeros((7, 8, 8, 1), np.float32)
    progress = ValidationProgress(steps=7, every=3, terminal=True)
    progress.on_epoch_begin(1)  # as fit does before validating its second epoch
    with caplog.at_level(logging.INFO, logger="training.train"):
        model.evaluate(x, y, batch_size=1, verbose=0, callbacks=[progress])
    lines = [r.getMessage() for r in caplog.records if "validation" in r.getMessage()]
    assert [line.split(",")[0] for line in lines] == [
        "epoch 2 validation batch 3/7", "epoch 2 validation batch 6/7",
        "epoch 2 validation batch 7/7"]
    assert all(line.endswith(" s/batch") for line in lines)
    assert capsys.readouterr().out == "\n"  # on a terminal: off the line Keras' bar is on
