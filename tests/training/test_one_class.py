"""A one-class model has one sigmoid channel and two labels, 0 background and 1 the class: the
training config, every data set, the converted bundle's model.yaml and evaluation all say so."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import yaml
from testkit import DECODER

from models.bundle import load_bundle
from models.labels import label_names
from tests.training.conftest import write_tiny_camvid
from tests.training.test_voc import build_voc

EXPECTED = ["background", "person"]


def write_person_folder(root: Path) -> Path:
    """Images with a person box (mask value 1) on background (0); returns a training config."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(2):
        mask = np.zeros((48, 80), np.uint8)
        mask[10:30, 20 + 10 * i:50 + 10 * i] = 1
        image = np.where(mask[..., None] == 1, 200, 40).astype(np.uint8).repeat(3, axis=2)
        cv2.imwrite(str(root / "images" / f"p{i}.png"), image)
        cv2.imwrite(str(root / "masks" / f"p{i}.png"), mask)
    config = root / "person.yaml"
    config.write_text(yaml.safe_dump({
        "name": "person",
        "data": {"dataset": "folder", "root": str(root), "classes": ["person"]},
        "model": {"backbone": "mobilenetv2", "encoder_weights": None,
                  "decoder_filters": list(DECODER)},
    }))
    return config


def test_one_class_label_names_agree_everywhere(tmp_path: Path, capsys) -> None:
    from training.__main__ import main
    from training.config import load_config
    from training.convert import ConvertOptions, convert
    from training.datasets import CamVid, open_dataset
    from training.datasets.voc import VOC
    from training.scratch import make_scratch_checkpoint

    assert label_names(["person"]) == EXPECTED
    config_path = write_person_folder(tmp_path / "folder")
    config = load_config(config_path)
    assert config.label_names == EXPECTED
    assert config.n_outputs == 1 and config.output_classes == ["person"]  # one sigmoid channel

    assert open_dataset(config.data, "val").label_names == EXPECTED
    build_voc(tmp_path / "voc")
    assert VOC(tmp_path / "voc", split="train", classes=["person"]).label_names == EXPECTED
    camvid = CamVid(write_tiny_camvid(tmp_path / "CamVid"), "train", ["pedestrian"])
    assert camvid.label_names == ["background", "pedestrian"]

    weights, scratch_config = make_scratch_checkpoint(tmp_path / "run", ["person"],
                                                      decoder_filters=DECODER,
                                                      input_size=(64, 96))
    out = tmp_path / "bundle"
    convert(ConvertOptions(checkpoint=str(weights), config=str(scratch_config), out=str(out),
                           formats="tflite", min_parity=0.0))
    assert yaml.safe_load((out / "model.yaml").read_text())["classes"] == EXPECTED
    assert list(load_bundle(out).classes) == EXPECTED

    capsys.readouterr()
    ran = {"litert": f"{out / 'model_fp16.tflite'} (fp16, LiteRT)",
           "keras": f"{weights} (fp32, Keras)"}
    for backend in ("litert", "keras"):  # the fp16 file, and the fp32 model it came from
        scores = tmp_path / f"scores-{backend}.json"
        assert main(["evaluate", "--bundle", str(out), "--config", str(config_path),
                     "--backend", backend, "--json", str(scores)]) == 0
        assert json.loads(scores.read_text())["classes"] == EXPECTED
        # which file and precision ran, before the scores
        assert capsys.readouterr().out.startswith(f"evaluating {ran[backend]}\n")


def test_one_class_bundle_scored_by_convert_and_benchmark(tmp_path: Path, capsys) -> None:
    """--eval-data and the benchmark score a one-class bundle (they used to stop with
    AttributeError: '_BinaryTruth' object has no attribute 'labels', and the bundle folder was
    left without model.yaml)."""
    from training.__main__ import main
    from training.scratch import make_scratch_checkpoint

    config_path = write_person_folder(tmp_path / "folder")
    weights, scratch_config = make_scratch_checkpoint(tmp_path / "run", ["person"],
                                                      decoder_filters=DECODER,
                                                      input_size=(64, 96))
    out = tmp_path / "bundle"
    assert main(["convert", "--checkpoint", str(weights), "--config", str(scratch_config),
                 "--out", str(out), "--formats", "tflite", "--min-parity", "0",
                 "--eval-data", str(config_path.parent), "--eval-config", str(config_path)]) == 0
    accuracy = load_bundle(out).accuracy
    assert accuracy["samples"] == 2
    for key in ("fp32", "tflite"):
        assert 0.0 <= accuracy[key]["miou"] <= 1.0, key
    assert 0.0 <= accuracy["tflite"]["agreement"] <= 1.0

    report = tmp_path / "bench.json"
    assert main(["benchmark", "--bundle", str(out), "--data", str(config_path.parent),
                 "--config", str(config_path), "--frames", "2", "--app-seconds", "0",
                 "--json", str(report)]) == 0
    rows = json.loads(report.read_text())["rows"]
    assert rows and all(0.0 <= row["miou"] <= 1.0 for row in rows)
    tflite = next(row for row in rows if row["format"] == "tflite")
    assert tflite["miou"] == accuracy["tflite"]["miou"]  # one scoring for both
    capsys.readouterr()
