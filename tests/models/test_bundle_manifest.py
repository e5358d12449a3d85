"""model.yaml: written, read back, and every kind of damage reported in one line naming the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from models.bundle import (
    MANIFEST,
    Bundle,
    BundleError,
    load_bundle,
    make_bundle,
    write_bundle,
)
from models.palette import palette_for

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["sky", "road", "car", "background"]


def _bundle(root: Path, **changes) -> Bundle:
    """A bundle around two small stand-in model files (the manifest does not parse them)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "model_fp16.tflite").write_bytes(bytes(range(256)) * 40)
    (root / "model_fp16.onnx").write_bytes(b"onnx" * 1000)
    settings = dict(name="demo", classes=CLASSES, height=64, width=96,
                    files={"tflite": "model_fp16.tflite", "onnx": "model_fp16.onnx"},
                    provenance={"backbone": "mobilenetv2", "fp32_bytes": np.int64(1234)},
                    parity={"tflite": 0.999, "onnx": 0.998})
    settings.update(changes)
    bundle = make_bundle(root, **settings)
    write_bundle(bundle)
    return bundle


def _edit(root: Path, change) -> None:
    manifest = yaml.safe_load((root / MANIFEST).read_text())
    change(manifest)
    (root / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))


def _error(path: Path, **kwargs) -> str:
    with pytest.raises(BundleError) as caught:
        load_bundle(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_round_trip(tmp_path: Path) -> None:
    written = _bundle(tmp_path / "b")
    read = load_bundle(tmp_path / "b")
    assert read.name == "demo"
    assert read.classes == tuple(CLASSES)
    assert read.input_size == (64, 96)
    assert (read.input.channel_order, read.input.dtype, read.input.dynamic_size) == (
        "BGR", "uint8", False)
    assert read.output == "labels" and read.precision == "fp16"
    assert read.files == written.files
    assert read.files["tflite"].bytes == 256 * 40
    assert read.parity == {"tflite": 0.999, "onnx": 0.998}
    assert read.provenance == {"backbone": "mobilenetv2", "fp32_bytes": 1234}
    np.testing.assert_array_equal(read.palette, palette_for(CLASSES))
    assert read.palette.dtype == np.uint8 and read.palette.shape == (4, 3)
    assert load_bundle(tmp_path / "b" / MANIFEST).name == "demo"  # the file works as well


def test_manifest_is_plain_yaml(tmp_path: Path) -> None:
    _bundle(tmp_path / "b")
    raw = yaml.safe_load((tmp_path / "b" / MANIFEST).read_text())
    assert set(raw) == {"name", "classes", "palette", "input", "output", "precision", "files",
                        "provenance", "parity"}
    assert raw["palette"][0] == [128, 128, 128]  # CamVid sky
    assert raw["files"]["onnx"] == {"path": "model_fp16.onnx", "sha256": raw["files"]["onnx"]["sha256"],
                                    "bytes": 4000}


def test_missing_manifest(tmp_path: Path) -> None:
    message = _error(tmp_path)
    assert str(tmp_path / MANIFEST) in message and "missing" in message


def test_missing_model_file(tmp_path: Path) -> None:
    _bundle(tmp_path / "b")
    (tmp_path / "b" / "model_fp16.onnx").unlink()
    message = _error(tmp_path / "b")
    assert "model_fp16.onnx" in message and "missing" in message
    assert load_bundle(tmp_path / "b", verify=False).files["onnx"].bytes == 4000


def test_truncated_model_file(tmp_path: Path) -> None:
    _bundle(tmp_path / "b")
    path = tmp_path / "b" / "model_fp16.tflite"
    path.write_bytes(path.read_bytes()[:1000])
    message = _error(tmp_path / "b")
    assert str(path) in message and "1000 bytes" in message and "truncated" in message


def test_checksum_mismatch(tmp_path: Path) -> None:
    _bundle(tmp_path / "b")
    path = tmp_path / "b" / "model_fp16.tflite"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF  # same size, one byte changed
    path.write_bytes(bytes(data))
    message = _error(tmp_path / "b")
    assert str(path) in message and "sha256" in message


def test_unknown_format(tmp_path: Path) -> None:
    _bundle(tmp_path / "b")
    _edit(tmp_path / "b", lambda m: m["files"].update(
        {"coreml": {"path": "model_fp16.tflite", "sha256": "0" * 64, "bytes": 1}}))
    message = _error(tmp_path / "b")
    assert MANIFEST in message and "unknown format 'coreml'" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m["input"].pop("height"), "missing key 'input.height'"),
        (lambda m: m.pop("classes"), "missing key 'classes'"),
        (lambda m: m["files"]["tflite"].pop("sha256"), "missing key 'files.tflite.sha256'"),
        (lambda m: m["input"].update(height="64"), "'input.height' must be an integer, got str"),
        (lambda m: m["input"].update(width=True), "'input.width' must be an integer, got bool"),
        (lambda m: m.update(classes="sky"), "'classes' must be a list"),
        (lambda m: m.update(output="logits"), "'output' must be labels or probabilities"),
        (lambda m: m["palette"].pop(), "'palette' has 3 colours for 4 classes"),
        (lambda m: m["input"].update(height=60), "multiples of 32"),
        (lambda m: m.update(extra=1), "unknown key 'extra'"),
        (lambda m: m["files"]["onnx"].update(path="../x.onnx"), "must be inside the bundle"),
        (lambda m: m.update(precision="int4"), "'precision' must be fp16 or int8, got 'int4'"),
        (lambda m: m.update(accuracy=[1]), "'accuracy' must be a mapping, got list"),
    ],
)
def test_malformed_manifest(tmp_path: Path, change, expected: str) -> None:
    _bundle(tmp_path / "b")
    _edit(tmp_path / "b", change)
    message = _error(tmp_path / "b")
    assert message.startswith(str(tmp_path / "b" / MANIFEST)) and expected in message


def test_int8_files_and_their_records_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "b"
    root.mkdir()
    (root / "model_int8.tflite").write_bytes(b"int8" * 100)
    quantization = {"calibration": {"images": "train/*.png", "used": 200, "seed": 0}}
    accuracy = {"split": "val", "fp32": {"miou": 0.5},
                "tflite-int8": {"miou": np.float64(0.49), "miou_delta": -1.0}}
    bundle = make_bundle(root, name="q", classes=CLASSES, height=64, width=96,
                         files={"tflite-int8": "model_int8.tflite"})
    bundle.quantization, bundle.accuracy = quantization, accuracy
    write_bundle(bundle)
    read = load_bundle(root)
    assert read.precision == "int8"  # no fp16 file: the engines' choice is the int8 one
    assert read.quantization == quantization
    assert read.accuracy["tflite-int8"] == {"miou": 0.49, "miou_delta": -1.0}
    # an fp16-only bundle keeps the manifest it always had: no empty int8 sections
    assert "quantization" not in yaml.safe_load((_bundle(tmp_path / "f").manifest_path).read_text())


def test_not_yaml(tmp_path: Path) -> None:
    _bundle(tmp_path / "b")
    (tmp_path / "b" / MANIFEST).write_text("name: [unclosed\n")
    assert "not valid YAML" in _error(tmp_path / "b")


def test_bundle_error_is_a_value_error() -> None:
    assert issubclass(BundleError, ValueError)


def test_format_not_in_bundle(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "b", files={"tflite": "model_fp16.tflite"})
    with pytest.raises(BundleError, match="no 'onnx' model in this bundle"):
        bundle.path_of("onnx")


def test_imports_no_tensorflow() -> None:
    code = ("import sys, models.bundle, models.engines, models.labels, models.letterbox, "
            "models.parity, models.__main__, training.checkpoint, training.convert; "
            "print(sorted(m for m in ('tensorflow', 'onnxruntime', 'ai_edge_litert') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
