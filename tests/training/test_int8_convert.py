"""int8 conversion: the calibration set, the scores on a labelled split, the mIoU gate and the
flags a user can get wrong (each one line, exit 2, before TensorFlow loads)."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import pytest
from testkit import Converted

from models.bundle import load_bundle
from training.__main__ import main
from training.convert import AccuracyError, ConvertOptions, check_miou_drop
from training.quantize import CalibrationError, calibration_set


def test_int8_bundle_records_calibration_and_scores(int8_converted: Converted) -> None:
    assert int8_converted.returncode == 0, int8_converted.stderr[-2000:]
    bundle = load_bundle(int8_converted.bundle)  # sizes and sha256 checked
    assert set(bundle.files) == {"tflite", "onnx", "tflite-int8", "onnx-int8"}
    assert bundle.files["tflite-int8"].path == "model_int8.tflite"
    assert bundle.files["onnx-int8"].path == "model_int8.onnx"
    assert bundle.precision == "fp16"
    for fp16, int8 in (("tflite", "tflite-int8"), ("onnx", "onnx-int8")):
        # int8 weights: about half of fp16 (observed 0.59x with the graph around them)
        assert bundle.files[int8].bytes < 0.7 * bundle.files[fp16].bytes, int8

    calibration = bundle.quantization["calibration"]
    again = calibration_set(str(int8_converted.samples / "*.png"), 6, 0)
    assert calibration == again.record()  # the same flags name the same images
    assert (calibration["available"], calibration["used"], calibration["seed"]) == (8, 6, 0)
    assert set(bundle.quantization["schemes"]) == {"tflite-int8", "onnx-int8"}

    accuracy = bundle.accuracy
    assert (accuracy["split"], accuracy["samples"]) == ("val", 4)
    fp32 = accuracy["fp32"]["miou"]
    for fmt in bundle.files:
        scores = accuracy[fmt]
        assert scores["miou_delta"] == round(100 * (scores["miou"] - fp32), 3)
        assert 0.0 <= scores["agreement"] <= 1.0
    assert set(bundle.parity) == set(bundle.files)
    out = int8_converted.stdout
    for step in ("calibration: 6 of 8 images", "writing model_int8.tflite", "wrote model_int8.onnx",
                 "scoring fp32 and tflite, onnx, tflite-int8, onnx-int8", "tflite-int8: mIoU"):
        assert step in out, step
    assert "Created a copy of bias input" not in out  # the quantizer's per-tensor chatter


def test_calibration_is_a_seeded_sample(tmp_path: Path) -> None:
    import cv2

    for i in range(20):
        cv2.imwrite(str(tmp_path / f"img_{i:02d}.png"), np.full((8, 8, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    first = calibration_set(str(tmp_path), 5, seed=1)
    assert first.paths == calibration_set(str(tmp_path / "*.png"), 5, seed=1).paths  # or a glob
    assert len(first.paths) == 5 and first.available == 20
    assert list(first.paths) == sorted(first.paths)
    assert calibration_set(str(tmp_path), 5, seed=2).paths != first.paths
    assert len(calibration_set(str(tmp_path), 50).paths) == 20  # fewer than asked: all
    with pytest.raises(CalibrationError, match="--calibration: no images in"):
        calibration_set(str(tmp_path / "*.jpg"))
    with pytest.raises(CalibrationError, match="--calibration-count: must be positive"):
        calibration_set(str(tmp_path), 0)
    (tmp_path / "img_99.png").write_bytes(b"not a png at all")
    with pytest.raises(CalibrationError, match="img_99.png: not a readable image"):
        calibration_set(str(tmp_path), 50)


def test_the_mIoU_gate(int8_bundle: Path, tmp_path: Path, caplog) -> None:
    bundle = load_bundle(int8_bundle)
    bundle.accuracy = copy.deepcopy(bundle.accuracy)
    bundle.accuracy["tflite-int8"]["miou_delta"] = -1.5
    bundle.accuracy["onnx-int8"]["miou_delta"] = -0.4
    options = ConvertOptions(checkpoint="unused", out=str(tmp_path))
    untouched = f"{tmp_path} left as it was"
    with pytest.raises(AccuracyError) as caught:
        check_miou_drop(bundle, options, untouched)
    root = bundle.accuracy["data"]
    assert str(caught.value) == (
        f"mIoU against fp32 on val of {root}: tflite-int8 -1.50 points, more than "
        f"--max-miou-drop 1.0; {tmp_path} left as it was (--allow-miou-drop writes the bundle "
        f"anyway)")
    check_miou_drop(bundle, ConvertOptions("unused", str(tmp_path), max_miou_drop=2.0), untouched)
    bundle.accuracy["tflite"]["miou_delta"] = -5.0  # fp16 files are judged by parity instead
    with caplog.at_level(logging.WARNING, logger="training.convert"):
        check_miou_drop(bundle, ConvertOptions("unused", str(tmp_path), allow_miou_drop=True),
                        untouched)
    assert "tflite-int8 -1.50 points" in caplog.text and "kept (--allow-miou-drop)" in caplog.text


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], "--formats tflite-int8: give --calibration GLOB"),
        (["--calibration", "{data}/train/*.png"],
         "--formats tflite-int8: give --eval-data ROOT (the split its mIoU drop is measured on) "
         "or --allow-miou-drop"),
        (["--calibration", "/nonexistent/*.png", "--allow-miou-drop"],
         "--calibration: no images in '/nonexistent/*.png'"),
        (["--calibration", "{data}/train/*.png", "--calibration-count", "0", "--allow-miou-drop"],
         "--calibration-count: must be positive, got 0"),
        (["--calibration", "{data}/train/*.png", "--output", "probabilities",
          "--allow-miou-drop"], "--formats tflite-int8: int8 files give labels only"),
        (["--calibration", "{data}/train/*.png", "--eval-data", "/nonexistent"],
         "--eval-data: /nonexistent is not a folder"),
        (["--calibration", "{data}/train/*.png", "--eval-data", "{data}"],
         "config.yaml: data.dataset: Input should be"),  # "synthetic": needs --eval-config
        (["--max-miou-drop", "-1"], "--max-miou-drop: must be 0 or more points, got -1.0"),
    ],
)
def test_int8_flag_errors_exit_2(tiny_source, labelled_data, tmp_path: Path, capsys, extra,
                                 expected) -> None:
    weights, config = tiny_source
    root, _ = labelled_data
    flags = [flag.replace("{data}", str(root)) for flag in extra]
    code = main(["convert", "--checkpoint", str(weights), "--config", str(config),
                 "--out", str(tmp_path / "b"), "--formats", "tflite,tflite-int8", *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and expected in err and "\n" not in err, err
    assert not (tmp_path / "b").exists()  # refused before any work


def test_the_int8_graph_decides_on_logits_with_the_same_labels(tiny_source) -> None:
    """int8 files drop the final softmax (its int8 output ties near-equal classes); in fp32 the
    labels must not change, and the one-class sigmoid's > 0.5 becomes logits > 0."""
    from models.parity import synthetic_frames
    from models.preprocess import backbone_preprocess
    from training.checkpoint import read_checkpoint
    from training.graph import serving_function, without_final_activation
    from training.keras_checkpoint import load_keras_model

    weights, config = tiny_source
    model = load_keras_model(read_checkpoint(str(weights), str(config)))
    trunk = without_final_activation(model)
    assert trunk is not None and trunk.output_shape == model.output_shape
    assert without_final_activation(trunk) is None  # ends in a convolution: nothing to drop
    frames = synthetic_frames(3, 64, 64, seed=7)
    preprocess = backbone_preprocess("mobilenetv2")
    softmax = serving_function(model, preprocess)(frames)["labels"].numpy()
    logits = serving_function(model, preprocess, logits=True)(frames)["labels"].numpy()
    assert (softmax == logits).mean() >= 0.9999  # only exact float ties could differ


def test_a_one_class_model_thresholds_its_logits_at_zero(tmp_path: Path) -> None:
    from models.parity import synthetic_frames
    from models.preprocess import backbone_preprocess
    from training.checkpoint import read_checkpoint
    from training.graph import serving_function
    from training.keras_checkpoint import load_keras_model
    from training.scratch import make_scratch_checkpoint

    weights, config = make_scratch_checkpoint(tmp_path / "run", ["person"],
                                              decoder_filters=(16, 8, 8, 8, 8))
    model = load_keras_model(read_checkpoint(str(weights), str(config)))
    frames = synthetic_frames(3, 64, 64, seed=8)
    preprocess = backbone_preprocess("mobilenetv2")
    sigmoid = serving_function(model, preprocess)(frames)["labels"].numpy()
    logits = serving_function(model, preprocess, logits=True)(frames)["labels"].numpy()
    assert set(np.unique(sigmoid)) <= {0, 1} and (sigmoid == logits).mean() >= 0.9999
