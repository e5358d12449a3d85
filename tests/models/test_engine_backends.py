"""The engines on the converted tiny bundle: same labels as fp32 Keras, clear errors otherwise."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from testkit import CLASSES, ROOT

from models.bundle import MANIFEST, BundleError, load_bundle
from models.engines import EngineError, choose_backend, open_engine
from models.engines.onnx import choose_providers, provider_options
from models.parity import agreement

# Observed on this machine: 0.9995-1.0 for both fp16 files. An untrained Unet has near-ties
# between classes, where fp16 weights may flip a label; 0.98 leaves room for other CPUs.
MIN_AGREEMENT = 0.98


@pytest.mark.parametrize("backend", ["litert", "onnx"])
def test_fp16_engines_agree_with_keras(bundle_dir: Path, frames: np.ndarray,
                                       keras_labels: np.ndarray, backend: str) -> None:
    with open_engine(bundle_dir, backend=backend, threads=2) as engine:
        labels = engine.infer(frames)
        assert engine.backend == backend and engine.name == f"tiny ({backend})"
        assert engine.input_size == (64, 64)
        assert engine.classes == (*CLASSES, "background")
        assert engine.palette.shape == (4, 3) and engine.palette.dtype == np.uint8
    assert labels.shape == (4, 64, 64) and labels.dtype == np.uint8
    assert agreement(labels, keras_labels) >= MIN_AGREEMENT
    assert len(np.unique(keras_labels)) >= 2  # the model does not answer one class everywhere


def test_keras_engine_matches_the_converter_reference(bundle_dir: Path, frames: np.ndarray,
                                                      keras_labels: np.ndarray) -> None:
    assert keras_labels.shape == (4, 64, 64) and keras_labels.dtype == np.uint8
    assert keras_labels.max() < len(CLASSES) + 1


@pytest.mark.parametrize("backend", ["litert", "onnx"])
def test_batches_loop_over_a_batch_1_graph(bundle_dir: Path, frames: np.ndarray,
                                           backend: str) -> None:
    with open_engine(bundle_dir, backend=backend) as engine:
        batch = engine.infer(frames)
        one_by_one = np.concatenate([engine.infer(frames[i:i + 1]) for i in range(len(frames))])
    np.testing.assert_array_equal(batch, one_by_one)


def test_auto_is_litert_without_a_gpu(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir)
    assert choose_backend(bundle) == "litert"  # onnxruntime here has no TensorRT/CUDA provider
    with open_engine(bundle) as engine:
        assert engine.backend == "litert"


def test_frames_of_the_wrong_size_or_type(bundle_dir: Path) -> None:
    with open_engine(bundle_dir, backend="litert") as engine:
        with pytest.raises(ValueError, match="frames are 48x64 but tiny takes 64x64"):
            engine.infer(np.zeros((1, 48, 64, 3), np.uint8))
        with pytest.raises(ValueError, match="uint8"):
            engine.infer(np.zeros((1, 64, 64, 3), np.float32))


def _drop_last_class(root: Path) -> None:
    manifest = yaml.safe_load((root / MANIFEST).read_text())
    manifest["classes"] = manifest["classes"][:-1]
    manifest["palette"] = manifest["palette"][:-1]
    (root / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))


@pytest.mark.parametrize(("backend", "model_file"), [("litert", "model_fp16.tflite"),
                                                      ("onnx", "model_fp16.onnx")])
def test_class_count_mismatch_names_the_manifest(bundle_copy: Path, backend: str,
                                                 model_file: str) -> None:
    _drop_last_class(bundle_copy)
    with pytest.raises(BundleError) as caught:
        open_engine(bundle_copy, backend=backend)
    assert str(caught.value) == (f"{bundle_copy / MANIFEST}: lists 3 classes but {model_file} "
                                 f"outputs 4 channels")


def test_truncated_model_file(bundle_copy: Path) -> None:
    path = bundle_copy / "model_fp16.tflite"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BundleError, match="truncated or replaced"):
        open_engine(bundle_copy, backend="litert")


def test_bundle_without_the_format(bundle_copy: Path) -> None:
    manifest = yaml.safe_load((bundle_copy / MANIFEST).read_text())
    del manifest["files"]["onnx"]
    (bundle_copy / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))
    with pytest.raises(EngineError) as caught:
        open_engine(bundle_copy, backend="onnx")
    assert str(caught.value) == (f"{bundle_copy / MANIFEST}: no onnx or onnx-int8 model in this "
                                 f"bundle (has: tflite); the onnx backend needs one")


@pytest.mark.parametrize(("backend", "module", "hint"), [
    ("onnx", "onnxruntime", "onnxruntime is not installed"),
    ("litert", "ai_edge_litert.interpreter", "ai-edge-litert is not installed"),
])
def test_runtime_not_installed(bundle_dir: Path, monkeypatch, backend: str, module: str,
                               hint: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(EngineError, match=hint):
        open_engine(bundle_dir, backend=backend)


def test_unknown_backend(bundle_dir: Path) -> None:
    with pytest.raises(EngineError, match="unknown backend 'tpu'"):
        open_engine(bundle_dir, backend="tpu")


def test_provider_choice_skips_what_is_missing() -> None:
    cpu_only = ["CPUExecutionProvider"]
    assert choose_providers(["tensorrt", "cuda", "cpu"], cpu_only) == cpu_only
    jetson = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(None, jetson) == jetson
    assert choose_providers(["cuda"], jetson) == ["CUDAExecutionProvider"]
    with pytest.raises(EngineError, match="none of the providers"):
        choose_providers(["tensorrt"], cpu_only)
    with pytest.raises(EngineError, match="unknown provider 'npu'"):
        choose_providers(["npu"], cpu_only)


def test_tensorrt_gets_fp16_and_an_engine_cache(tmp_path: Path) -> None:
    chosen = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    options = provider_options(chosen, tmp_path / "trt")
    assert options[0] == {"trt_fp16_enable": True, "trt_engine_cache_enable": True,
                          "trt_engine_cache_path": str(tmp_path / "trt")}
    assert options[1:] == [{}, {}]
    assert (tmp_path / "trt").is_dir()


def test_runtime_engines_do_not_import_tensorflow(bundle_dir: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from models.engines import open_engine\n"
        f"frames = np.zeros((2, 64, 64, 3), np.uint8)\n"
        "for backend in ('litert', 'onnx'):\n"
        f"    assert open_engine({str(bundle_dir)!r}, backend=backend).infer(frames).shape == (2, 64, 64)\n"
        "print('tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.strip() == "False"


def _replace_tflite(bundle: Path, data: bytes) -> Path:
    """The tflite file replaced by `data`, with a manifest whose sha256 and size match it."""
    path = bundle / "model_fp16.tflite"
    path.write_bytes(data)
    manifest = yaml.safe_load((bundle / MANIFEST).read_text())
    manifest["files"]["tflite"].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (bundle / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


@pytest.mark.parametrize(("data", "problem"), [
    (b"this is not a flatbuffer at all\n" * 20, "not a TFLite model (no TFL3 identifier)"),
    (b"\x1c\x00\x00\x00TFL3" + b"\xff" * 64, "not a readable TFLite model"),
])
def test_a_tflite_file_that_is_no_model_is_a_bundle_error(bundle_copy: Path, data: bytes,
                                                          problem: str) -> None:
    path = _replace_tflite(bundle_copy, data)
    load_bundle(bundle_copy)  # the checksums match: only reading the graph can tell
    with pytest.raises(BundleError) as caught:
        open_engine(bundle_copy, backend="litert")
    assert str(caught.value).startswith(f"{path}: {problem}")
    assert "\n" not in str(caught.value)


def run_app(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "--config", str(config), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def app_config(folder: Path, bundle: Path, backend: str) -> Path:
    config = folder / "app.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"uri": "test://"}, "model": {"bundle": str(bundle), "backend": backend},
        "display": {"enabled": False}, "record": {"enabled": False},
        "telemetry": {"enabled": False},
    }))
    return config


@pytest.mark.parametrize("backend", ["litert", "auto"])
def test_the_app_refuses_a_garbage_tflite_in_one_line(bundle_copy: Path, tmp_path: Path,
                                                      backend: str) -> None:
    path = _replace_tflite(bundle_copy, b"\x00garbage with the right checksum\n" * 40)
    result = run_app(app_config(tmp_path, bundle_copy, backend), "--max-frames", "1")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip() == (f"error: model.bundle: {path}: not a TFLite model "
                                     f"(no TFL3 identifier)")


def test_the_app_points_the_keras_backend_to_training(bundle_dir: Path, tmp_path: Path) -> None:
    result = run_app(app_config(tmp_path, bundle_dir, "auto"), "--backend", "keras",
                     "--max-frames", "1")
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: model.backend: the keras backend")
    assert "python -m training evaluate --checkpoint" in lines[0]


def test_onnx_threads_can_stop_spinning(bundle_dir: Path, frames: np.ndarray) -> None:
    """The benchmark turns busy-waiting off so one row does not take the next row's cores."""
    from models.engines.onnx import OnnxEngine

    key = "session.intra_op.allow_spinning"
    with OnnxEngine(load_bundle(bundle_dir), providers=["cpu"], spinning=False) as engine:
        assert engine._session.get_session_options().get_session_config_entry(key) == "0"
        assert engine.infer(frames).shape == (4, 64, 64)
    with (OnnxEngine(load_bundle(bundle_dir), providers=["cpu"]) as engine,  # the app's default
          pytest.raises(RuntimeError, match="does not have configuration")):
        engine._session.get_session_options().get_session_config_entry(key)
