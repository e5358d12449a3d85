from __future__ import annotations

import pytest

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


def test_imagenet_weights_that_cannot_download_say_what_to_do(tmp_path):
    """No network here (nor in CI): the default encoder_weights must fail with advice, not a trace."""
    from training.config import Config
    from training.model import ModelError, build_unet

    config = Config.model_validate({"data": {"dataset": "camvid", "root": str(tmp_path),
                                             "classes": ["sky", "road"]},
                                    "model": {"backbone": "mobilenetv2",
                                              "decoder_filters": [16, 8, 8, 8, 8]}})
    assert config.model.encoder_weights == "imagenet"
    with pytest.raises(ModelError, match=r"model.encoder_weights: cannot download .* ~/.keras/models/ "
                                         r"or set encoder_weights: null"):
        build_unet(config)
