from __future__ import annotations

import numpy as np
import pytest
import yaml

from training.config import ConfigError, load_config


def test_repo_configs_load():
    camvid = load_config("configs/camvid.yaml")
    assert camvid.n_outputs == 12 and camvid.output_classes[-1] == "background"
    assert camvid.data.root.endswith("shared/datasets/CamVid")
    voc = load_config("configs/voc.yaml")
    assert voc.n_outputs == 1 and voc.model.final_activation(1) == "sigmoid"
    own = load_config("configs/own-voc.yaml")
    assert own.label_names == ["background", "water"] and own.data.values == [1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: {dataset: camvid, root: x, classes: [sky]}\nmodel: {backbon: x}\n", "model.backbon"),
        ("data: {dataset: kitti, root: x, classes: [sky]}\n", "data.dataset"),
        ("data: {dataset: camvid, root: x, classes: [sky]}\ntrain: {epochs: 0}\n", "train.epochs"),
        ("data: {dataset: camvid, root: x, classes: [sky]}\n"
         "train: {class_weights: null, class_weight_power: 0.7}\n", "train.*class_weight_power"),
        ("data: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        load_config(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_imagenet_weights_that_cannot_download_say_what_to_do(tmp_path, monkeypatch):
    """No network here (nor in CI): the default encoder_weights must fail with advice naming
    the exact file Keras wants, not a trace. HOME is empty, so no cached copy is found."""
    from training.config import Config
    from training.model import ModelError, build_unet

    monkeypatch.setenv("HOME", str(tmp_path))
    config = Config.model_validate({"data": {"dataset": "camvid", "root": str(tmp_path),
                                             "classes": ["sky", "road"]},
                                    "model": {"backbone": "mobilenetv2",
                                              "decoder_filters": [16, 8, 8, 8, 8]}})
    assert config.model.encoder_weights == "imagenet"
    with pytest.raises(ModelError, match=r"^model.encoder_weights: cannot download .*; place "
                       r"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1\.0_224_no_top\.h5 "
                       r"\(9,422,432 bytes\) in ~/.keras/models/, or set encoder_weights: to "
                       r"that file's path, or encoder_weights: null to train from scratch$"):
        build_unet(config)


def test_encoder_weights_from_a_file_the_config_names(tmp_path, monkeypatch):
    """model.encoder_weights: a path (relative to the config) loads that file into the encoder,
    offline: a MobileNetV2 encoder's weights written here, not ImageNet's."""
    from training.framework import keras
    from training.model import build_unet

    monkeypatch.setenv("HOME", str(tmp_path))  # no Keras cache to fall back on
    keras.utils.set_random_seed(7)
    encoder = keras.applications.MobileNetV2(include_top=False, weights=None,
                                             input_shape=(None, None, 3))
    (tmp_path / "weights").mkdir()
    encoder.save_weights(tmp_path / "weights" / "encoder.h5")
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"dataset": "camvid", "root": str(tmp_path), "classes": ["sky", "road"]},
        "model": {"backbone": "mobilenetv2", "encoder_weights": "weights/encoder.h5",
                  "decoder_filters": [16, 8, 8, 8, 8]}}))
    config = load_config(path)
    assert config.model.encoder_weights == str(tmp_path / "weights" / "encoder.h5")
    model = build_unet(config)
    for name in ("Conv1", "block_16_project", "Conv_1_bn"):
        for loaded, written in zip(model.get_layer(name).get_weights(),
                                   encoder.get_layer(name).get_weights(), strict=True):
            assert np.array_equal(loaded, written), name
    keras.utils.set_random_seed(8)  # and a model from scratch differs: the check can fail
    scratch = build_unet(config.model_copy(update={
        "model": config.model.model_copy(update={"encoder_weights": None})}))
    assert not np.array_equal(scratch.get_layer("Conv1").get_weights()[0],
                              encoder.get_layer("Conv1").get_weights()[0])


def test_encoder_weights_file_that_is_missing(tmp_path):
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"dataset": "camvid", "root": str(tmp_path), "classes": ["sky"]},
        "model": {"encoder_weights": "nowhere/encoder.h5"}}))
    with pytest.raises(ConfigError, match=r"own\.yaml: model\.encoder_weights: no such file "
                       r".*nowhere/encoder\.h5 \(imagenet, null or a weights file's path\)$"):
        load_config(path)
