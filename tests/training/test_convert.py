"""The converter on a tiny real Unet: the bundle, its manifest, and user errors.

The session's bundle comes from `python -m models convert` (which runs `python -m training
convert`, as users have always typed it); the flag checks call `python -m training`'s main.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from testkit import CLASSES, DECODER, Converted, run_models

from models.bundle import MANIFEST, load_bundle
from models.palette import palette_for
from training.__main__ import main


def test_subprocess_conversion_writes_a_verified_bundle(converted: Converted) -> None:
    assert converted.returncode == 0, converted.stderr[-2000:]
    bundle = load_bundle(converted.bundle)  # sizes and sha256 checked
    assert set(bundle.files) == {"tflite", "onnx"}
    assert bundle.files["tflite"].path == "model_fp16.tflite"
    assert bundle.files["onnx"].path == "model_fp16.onnx"
    assert bundle.classes == (*CLASSES, "background")
    np.testing.assert_array_equal(bundle.palette, palette_for([*CLASSES, "background"]))
    assert bundle.input_size == (64, 64)  # 60x64 asked, rounded up to a multiple of 32
    assert (bundle.input.channel_order, bundle.input.dtype) == ("BGR", "uint8")
    assert bundle.output == "labels" and bundle.precision == "fp16"
    assert bundle.name == "tiny"


def test_manifest_records_provenance_sizes_and_parity(converted: Converted) -> None:
    bundle = load_bundle(converted.bundle)
    p = bundle.provenance
    assert p["checkpoint"] == str(converted.weights.resolve())
    assert p["config"] == str(converted.config.resolve())
    assert (p["backbone"], p["preprocess"], p["activation"]) == ("mobilenetv2", "tf", "softmax")
    assert p["decoder_filters"] == list(DECODER) and p["dataset"] == "synthetic"
    assert p["fp32_bytes"] == 4 * p["fp32_params"] > 0
    assert p["checkpoint_bytes"] == converted.weights.stat().st_size
    assert p["metrics"] == {"miou": 0.42, "global_accuracy": 0.8, "split": "val", "samples": 3}
    assert p["parity_frames"] == f"3 from {converted.samples}"
    for fmt, entry in bundle.files.items():
        assert entry.bytes == (converted.bundle / entry.path).stat().st_size
        assert entry.bytes < 0.55 * p["fp32_bytes"], fmt  # fp16 halves the weights
    assert set(bundle.parity) == {"tflite", "onnx"}
    # an untrained model's near-ties are where fp16 can flip a label; still nearly all agree
    assert all(value >= 0.98 for value in bundle.parity.values()), bundle.parity


def test_progress_is_logged_one_line_per_step(converted: Converted) -> None:
    out = converted.stdout
    for step in ("input 64x64 (asked 60x64, rounded up to multiples of 32)", "loading TensorFlow", "mobilenetv2 Unet",
                 "writing model_fp16.tflite", "wrote model_fp16.onnx", "parity with fp32 Keras on 3 sample frames",
                 f"wrote {converted.bundle / MANIFEST}"):
        assert step in out, step
    assert "Traceback" not in converted.stderr


def test_user_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = run_models("convert", "--checkpoint", str(tmp_path / "missing.weights.h5"),
                        "--out", str(tmp_path / "b"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'missing.weights.h5'}: checkpoint not found"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--input-size", "big"], "--input-size: expected HxW"),
        (["--formats", "tflite,coreml"], "--formats: unknown format 'coreml'"),
        (["--samples", "/nonexistent/*.png"], "--samples: no images"),
        (["--min-parity", "2"], "--min-parity: must be a fraction"),
    ],
)
def test_bad_flags_exit_2(tiny_source, tmp_path: Path, capsys, extra, expected) -> None:
    weights, config = tiny_source
    code = main(["convert", "--checkpoint", str(weights), "--config", str(config),
                 "--out", str(tmp_path / "b"), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and expected in err and "\n" not in err


def test_config_missing_key_exit_2(tiny_source, tmp_path: Path, capsys) -> None:
    weights, config = tiny_source
    raw = yaml.safe_load(Path(config).read_text())
    del raw["data"]["classes"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(raw))
    code = main(["convert", "--checkpoint", str(weights), "--config", str(broken),
                 "--out", str(tmp_path / "b")])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"error: {broken}: missing key 'data.classes'"


def test_tftrt_is_refused_without_tensorrt(tiny_source, tmp_path: Path, capsys) -> None:
    from training.framework import tf

    if tf.sysconfig.get_build_info().get("is_tensorrt_build"):
        pytest.skip("this TensorFlow has TensorRT")
    weights, config = tiny_source
    code = main(["convert", "--checkpoint", str(weights), "--config", str(config),
                 "--out", str(tmp_path / "b"), "--formats", "tflite,tftrt"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == ("error: --formats tftrt: this TensorFlow build has no TensorRT "
                   "(is_tensorrt_build is false)")
    assert not (tmp_path / "b" / "model_fp16.tflite").exists()  # refused before any work


def test_parity_under_the_minimum_fails_without_manifest(converted: Converted, tmp_path: Path,
                                                         capsys) -> None:
    parity = load_bundle(converted.bundle).parity["tflite"]
    if parity >= 1.0:
        pytest.skip("the tiny model's fp16 labels equal fp32 everywhere; nothing to fail")
    out = tmp_path / "strict"
    code = main(["convert", "--checkpoint", str(converted.weights), "--config",
                 str(converted.config), "--out", str(out), "--input-size", "64x64",
                 "--formats", "tflite", "--min-parity", "1.0"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err
    assert err.startswith("error: parity under --min-parity 1.0: tflite 0.99")
    assert err.endswith(f"; nothing written to {out}")
    assert not out.exists() and not list(tmp_path.glob(".strict.*"))  # no half bundle


def test_one_class_sigmoid_model_with_probabilities(tmp_path: Path) -> None:
    """--output probabilities keeps the float map in the files; engines still return labels
    (sigmoid > 0.5), and the manifest names label 0 background and label 1 the class."""
    from models.engines import open_engine
    from models.parity import synthetic_frames
    from training.convert import ConvertOptions, convert
    from training.scratch import make_scratch_checkpoint

    weights, config = make_scratch_checkpoint(tmp_path / "run", ["person"],
                                              decoder_filters=DECODER, input_size=(32, 64))
    bundle = convert(ConvertOptions(checkpoint=str(weights), out=str(tmp_path / "person"),
                                    output="probabilities", min_parity=0.0))
    assert bundle.classes == ("background", "person") and bundle.output == "probabilities"
    assert bundle.input_size == (32, 64)  # data.input_size from the config
    assert load_bundle(tmp_path / "person").provenance["activation"] == "sigmoid"
    # Parity ran these files through the LiteRT and ONNX engines against fp32 Keras. Observed
    # here: tflite 0.9999, onnx 0.985. An untrained sigmoid sits near 0.5 everywhere, and ONNX
    # Runtime computes in fp16 (LiteRT only stores fp16 weights), so near-ties flip more there.
    assert all(value >= 0.95 for value in bundle.parity.values()), bundle.parity
    frames = synthetic_frames(3, 32, 64, seed=5)
    for backend in ("litert", "onnx"):
        with open_engine(bundle, backend=backend) as engine:
            labels = engine.infer(frames)
        assert labels.shape == (3, 32, 64) and labels.dtype == np.uint8
        assert set(np.unique(labels)) <= {0, 1}
