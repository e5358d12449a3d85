"""What the converter checks before TensorFlow: input size, checkpoint kind, training config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from training.checkpoint import (
    CheckpointError,
    checkpoint_kind,
    parse_input_size,
    read_checkpoint,
)


@pytest.mark.parametrize(
    ("text", "size"),
    [("360x480", (384, 480)), ("384x480", (384, 480)), ("64X64", (64, 64)), ("1x33", (32, 64))],
)
def test_input_size_rounds_up_to_32(text: str, size: tuple[int, int]) -> None:
    assert parse_input_size(text) == size


@pytest.mark.parametrize("text", ["360", "axb", "360x480x3", "0x64", "-32x64", ""])
def test_bad_input_size_names_the_flag(text: str) -> None:
    with pytest.raises(CheckpointError, match="^--input-size: "):
        parse_input_size(text)


def _config(path: Path, **sections) -> Path:
    raw = {"name": "demo", "data": {"dataset": "camvid", "root": "x", "classes": ["sky", "road"],
                                    "train_split": "train"},
           "model": {"backbone": "resnet18", "decoder_filters": [16, 8, 8, 8, 8],
                     "activation": "softmax", "encoder_weights": None},
           "train": {"epochs": 3}}  # keys the converter does not need are tolerated
    for key, value in sections.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    path.write_text(yaml.safe_dump(raw))
    return path


def _weights(path: Path) -> Path:
    path.write_bytes(b"\x89HDF\r\n\x1a\n")  # only the name matters for .weights.h5
    return path


def test_reads_training_config(tmp_path: Path) -> None:
    weights = _weights(tmp_path / "best.weights.h5")
    source = read_checkpoint(weights, _config(tmp_path / "train.yaml"))
    assert source.kind == "weights"
    assert (source.backbone, source.decoder_filters, source.final_activation) == (
        "resnet18", (16, 8, 8, 8, 8), "softmax")
    assert source.classes == ("sky", "road") and source.n_outputs == 3
    assert (source.dataset, source.name, source.input_size) == ("camvid", "demo", None)


def test_config_beside_the_checkpoint_is_found(tmp_path: Path) -> None:
    _config(tmp_path / "config.yaml", data={"classes": ["person"], "input_size": [360, 480]},
            model={"backbone": "mobilenetv2", "activation": None})
    source = read_checkpoint(_weights(tmp_path / "best.weights.h5"))
    assert source.config == (tmp_path / "config.yaml").resolve()
    assert source.n_outputs == 1 and source.final_activation == "sigmoid"
    assert source.input_size == (384, 480)


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nope\.weights\.h5: checkpoint not found"):
        read_checkpoint(tmp_path / "nope.weights.h5", _config(tmp_path / "c.yaml"))


def test_weights_need_a_config(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="needs --config"):
        read_checkpoint(_weights(tmp_path / "w.weights.h5"))


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"data": {"dataset": "camvid"}}, "missing key 'data.classes'"),
        ({"model": None}, "missing key 'model'"),
        ({"model": {"decoder_filters": [8]}}, "missing key 'model.backbone'"),
        ({"model": {"backbone": "alexnet"}}, "unknown backbone 'alexnet'"),
        ({"model": {"backbone": "resnet18", "decoder_filters": "big"}}, "model.decoder_filters"),
        ({"data": {"classes": ["a"], "input_size": [360]}}, "data.input_size"),
    ],
)
def test_config_mistakes_name_file_and_key(tmp_path: Path, sections: dict, expected: str) -> None:
    config = _config(tmp_path / "c.yaml", **sections)
    with pytest.raises(CheckpointError) as caught:
        read_checkpoint(_weights(tmp_path / "w.weights.h5"), config)
    assert str(caught.value).startswith(str(config)) and expected in str(caught.value)


def test_checkpoint_kinds(tmp_path: Path) -> None:
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "m.keras").write_bytes(b"PK")
    (tmp_path / "ckpt.index").write_bytes(b"")
    assert checkpoint_kind(tmp_path / "saved") == "model"
    assert checkpoint_kind(tmp_path / "m.keras") == "model"
    assert checkpoint_kind(tmp_path / "ckpt") == "weights"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(CheckpointError, match="not a Keras checkpoint"):
        checkpoint_kind(tmp_path / "notes.txt")
