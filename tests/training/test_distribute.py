"""train.distribute and train.mixed_precision on this machine (one CPU, no GPU): mirrored trains as
no strategy does, mixed precision is refused unless forced, and forced it trains float16 with a
float32 output and a scaled loss."""

from __future__ import annotations

import math

import pytest

from tests.training.conftest import history, tiny_config


def train_main(*args: str) -> int:
    from training.__main__ import main

    return main(["train", *args])


def test_mirrored_on_one_device_gives_the_losses_of_no_strategy(tmp_path, trained_run, caplog):
    """The same config as the shared two-epoch run (trained with no strategy), mirrored."""
    config, plain_run = trained_run
    with caplog.at_level("INFO"):
        assert train_main("--config", str(config), "--out", str(tmp_path / "mirrored"),
                          "--distribute", "mirrored") == 0
    assert "distribute mirrored: 1 replica(s) on /job:localhost/replica:0/task:0/device:CPU:0" \
        in caplog.text
    plain, mirrored = history(plain_run), history(tmp_path / "mirrored")
    assert len(plain) == len(mirrored) == 2
    for epoch in range(2):
        for key in ("loss", "val_loss", "miou", "val_miou"):
            assert mirrored[epoch][key] == pytest.approx(plain[epoch][key], rel=1e-5,
                                                         abs=1e-6), (epoch, key)


def test_mixed_precision_without_a_gpu_is_one_line(tmp_path, tiny_camvid, capsys):
    config = tiny_config(tiny_camvid, tmp_path / "tiny.yaml", mixed_precision=True)
    run = tmp_path / "run"
    assert train_main("--config", str(config), "--out", str(run)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "error: train.mixed_precision: true needs a GPU and TensorFlow sees none here"), err
    assert "set it to false, or to force" in err
    assert not run.exists()


def test_the_mixed_model_computes_in_float16_with_a_float32_output(tmp_path, tiny_camvid):
    from training.config import load_config
    from training.framework import keras, tf
    from training.precision import build_model, optimizer_for, precision_policy

    config = load_config(tiny_config(tiny_camvid, tmp_path / "tiny.yaml"))
    with precision_policy(True):
        model = build_model(config, mixed=True)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    convolutions = {layer.compute_dtype for layer in model.layers
                    if isinstance(layer, keras.layers.Conv2D)}
    assert convolutions == {"float16"}
    assert model.layers[-1].compute_dtype == "float32" and model.output.dtype == tf.float32
    assert model.layers[-1].name == "softmax"  # the name the converter and loaders know
    assert {weight.dtype for weight in model.weights} == {tf.float32}
    optimizer = optimizer_for(keras.optimizers.Adam(), mixed=True)
    assert isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer)


def test_forced_mixed_precision_trains_and_saves_a_float32_model(tmp_path, tiny_camvid, caplog):
    from training.framework import keras, tf
    from training.keras_model import load_full_model

    config = tiny_config(tiny_camvid, tmp_path / "tiny.yaml", epochs=1, mixed_precision="force")
    run = tmp_path / "run"
    with caplog.at_level("INFO"):
        assert train_main("--config", str(config), "--out", str(run)) == 0
    assert "mixed precision: mixed_float16 compute, float32 weights and output, loss scaled" \
        in caplog.text
    assert keras.mixed_precision.global_policy().name == "float32"
    assert all(math.isfinite(value) for value in history(run)[0].values())
    saved = {name for name, _ in tf.train.list_variables(str(run / "state"))}
    assert any("loss_scale" in name for name in saved), sorted(saved)[:20]
    model = load_full_model(str(run / "model.h5"))
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}


def test_the_reference_states_the_learning_rate_rule():
    from training.reference import explain

    text = " ".join(explain().split())
    assert "train.distribute (none | mirrored | multi_worker, default none)" in text
    assert "batch_size is the global batch, split evenly over the replicas" in text
    assert "scale it with the global batch" in text
    assert "train.mixed_precision (true/false | force, default false)" in text
