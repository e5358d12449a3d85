"""The TensorRT backend where no GPU is: the reasons it gives, auto's order, and (with the
stand-in `tensorrt` of fake_tensorrt.py and a stand-in CUDA device) the build and cache logic.

The real CUDA runtime is used where it is real: this machine has libcudart but no driver.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from fake_tensorrt import make
from testkit import ROOT

from models.bundle import MANIFEST, load_bundle
from models.engines import EngineError, check_backends, choose_backend, open_engine
from models.engines import tensorrt as trt_backend
from models.engines.cuda import CudaError, CudaRuntime, GpuInfo, first_gpu

SHIPPED = ROOT / "models" / "camvid-unet"
_INPUT = yaml.safe_load((SHIPPED / MANIFEST).read_text())["input"]
H, W = _INPUT["height"], _INPUT["width"]  # the shipped graph's fixed input
HAS_TENSORRT = trt_backend.availability()[0] is None


def _cuda_reason() -> str | None:
    try:
        first_gpu()
    except CudaError as error:
        return str(error)
    return None


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A private copy of the shipped bundle (its ONNX file is what TensorRT builds from)."""
    return Path(shutil.copytree(SHIPPED, tmp_path / "camvid-unet"))


class FakeCuda:
    """A GPU that cannot exist here: device "pointers" are numbers; pinned host memory is real."""

    def __init__(self) -> None:
        self.next, self.kept, self.freed = 4096, {}, []

    def malloc(self, nbytes: int) -> int:
        self.next += nbytes + 256
        return self.next

    def malloc_host(self, nbytes: int) -> int:
        buffer = ctypes.create_string_buffer(nbytes)
        self.kept[ctypes.addressof(buffer)] = buffer
        return ctypes.addressof(buffer)

    def free(self, pointer: int) -> None:
        self.freed.append(pointer)

    def free_host(self, pointer: int) -> None:
        self.freed.append(self.kept.pop(pointer) and pointer)

    def copy_to_device(self, *args) -> None: ...
    def copy_to_host(self, *args) -> None: ...
    def stream_create(self) -> int: return 7
    def synchronize(self, stream: int) -> None: ...
    def stream_destroy(self, stream: int) -> None: ...


@pytest.fixture
def gpu(monkeypatch):
    """Swap in a stand-in tensorrt module and GPU; returns a setter for both."""
    state = {}

    def install(version: str = "10.3.0", name: str = "Orin", cc: tuple = (8, 7), **options):
        options.setdefault("input_shape", (1, H, W, 3))
        fake = make(version, **options)
        monkeypatch.setitem(sys.modules, "tensorrt", fake)
        cuda = FakeCuda()
        monkeypatch.setattr(trt_backend, "first_gpu", lambda: (cuda, GpuInfo(name, cc, True)))
        state.update(trt=fake, cuda=cuda)
        return fake

    install.state = state
    return install


# -- what is really absent here --------------------------------------------------------------


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt and a GPU are installed here")
def test_without_tensorrt_the_reason_is_one_line() -> None:
    reason, detail = trt_backend.availability()
    assert reason is not None and "\n" not in reason and detail == ""
    if "tensorrt" not in sys.modules and not _module_exists("tensorrt"):
        assert reason == "the tensorrt Python module is not installed"
    with pytest.raises(EngineError) as caught:
        open_engine(SHIPPED, backend="tensorrt")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("tensorrt backend: ")


def _module_exists(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


@pytest.mark.skipif(_cuda_reason() is None, reason="a CUDA GPU is here")
def test_without_a_gpu_cuda_says_what_is_missing() -> None:
    reason = _cuda_reason()
    assert reason is not None and "\n" not in reason
    try:
        CudaRuntime.load()
    except CudaError:
        assert reason.startswith("CUDA: libcudart not found")
    else:  # this machine: the CUDA 13 runtime without a driver
        assert "no NVIDIA driver" in reason or "no GPU" in reason or "failed" in reason


@pytest.mark.skipif(_cuda_reason() is None, reason="a CUDA GPU is here")
def test_tensorrt_present_but_no_gpu_is_a_cuda_reason(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", make("10.3.0"))
    reason, _ = trt_backend.availability()
    assert reason == _cuda_reason()


def test_a_tensorrt_too_old_for_the_tensor_api_is_refused(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", make("8.2.1"))
    reason, _ = trt_backend.availability()
    assert reason == ("TensorRT 8.2.1 is older than 8.5 (the name-based tensor API; "
                      "JetPack 5.1 or later)")


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt and a GPU are installed here")
def test_auto_order_and_reasons_here() -> None:
    bundle = load_bundle(SHIPPED)
    checks = check_backends(bundle)
    assert [c.label for c in checks] == ["tensorrt", "onnx (TensorRT/CUDA)", "litert", "onnx (CPU)"]
    assert [c.gpu for c in checks] == [True, True, False, False]
    assert not checks[0].ok and not checks[1].ok
    assert checks[1].detail.startswith("onnxruntime ") and "no TensorRT/CUDA provider" in checks[1].detail
    assert checks[2].ok and choose_backend(bundle) == "litert"
    engine = open_engine(bundle, threads=2)
    assert engine.backend == "litert"
    assert [s.split(":")[0] for s in engine.skipped] == ["tensorrt", "onnx (TensorRT/CUDA)"]
    assert engine.describe() == "LiteRT fp16 on CPU (2 threads)"


def test_auto_prefers_tensorrt_when_it_can_run(gpu, bundle: Path, tmp_path: Path) -> None:
    gpu()
    assert choose_backend(load_bundle(bundle)) == "tensorrt"
    with open_engine(bundle, cache_dir=tmp_path / "cache") as engine:
        assert engine.backend == "tensorrt"
        assert engine.describe() == "TensorRT FP16 on Orin"
        assert engine.on_gpu and engine.skipped == ()


def test_auto_falls_back_when_tensorrt_cannot_build(gpu, bundle: Path, tmp_path: Path,
                                                    caplog) -> None:
    gpu().fail_build = True
    with open_engine(bundle, cache_dir=tmp_path / "cache", threads=1) as engine:
        assert engine.backend == "litert"
    assert "engine: tensorrt cannot run camvid-unet (tensorrt backend: building the engine" in caplog.text
    assert engine.skipped[0].startswith("tensorrt: building the engine from ")
    assert engine.skipped[0].endswith("(Error Code 4: Internal Error (out of memory))")
    assert not list((tmp_path / "cache").glob("*.engine"))


def test_without_an_onnx_file_tensorrt_is_not_a_candidate(gpu, bundle: Path) -> None:
    gpu()
    manifest = yaml.safe_load((bundle / MANIFEST).read_text())
    del manifest["files"]["onnx"]
    (bundle / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))
    checks = check_backends(load_bundle(bundle))
    left = ", ".join(sorted(manifest["files"]))
    assert checks[0].detail == f"the bundle has no onnx file (has: {left})"
    assert choose_backend(load_bundle(bundle)) == "litert"


# -- build and cache, with the stand-ins -----------------------------------------------------


def test_the_build_asks_for_fp16_a_workspace_cap_and_no_explicit_batch_flag_on_10(
        gpu, bundle: Path, tmp_path: Path) -> None:
    fake = gpu("10.3.0")
    with open_engine(bundle, backend="tensorrt", cache_dir=tmp_path) as engine:
        assert engine.built and engine.precision == "FP16"
    (plan,) = fake.builds
    assert plan["flags"] == ["FP16"] and plan["network_flags"] == 0
    assert plan["pools"] == {"0": trt_backend.WORKSPACE_BYTES} or plan["pools"] == {
        0: trt_backend.WORKSPACE_BYTES}
    assert plan["profiles"] == []  # the shipped graph's input is fixed: no profile needed


def test_tensorrt_8_gets_the_explicit_batch_flag_and_a_profile_for_a_free_batch(
        gpu, bundle: Path, tmp_path: Path) -> None:
    fake = gpu("8.6.2", input_shape=(-1, H, W, 3))
    with open_engine(bundle, backend="tensorrt", cache_dir=tmp_path):
        pass
    (plan,) = fake.builds
    assert plan["network_flags"] == 1
    assert plan["profiles"] == [{"frames": [[1, H, W, 3]] * 3}]


def test_tensorrt_11_has_no_fp16_flag_and_builds_the_graph_as_typed(
        gpu, bundle: Path, tmp_path: Path) -> None:
    fake = gpu("11.0.0", fp16_flag=False)
    with open_engine(bundle, backend="tensorrt", cache_dir=tmp_path) as engine:
        assert engine.describe() == "TensorRT FP16 (typed) on Orin"
    assert fake.builds[0]["flags"] == []


def test_second_start_loads_the_cache_and_any_key_change_rebuilds(gpu, bundle: Path,
                                                                  tmp_path: Path) -> None:
    cache = tmp_path / "cache"

    def start() -> bool:
        with open_engine(bundle, backend="tensorrt", cache_dir=cache) as engine:
            frames = np.zeros((2, H, W, 3), np.uint8)
            assert engine.infer(frames).shape == (2, H, W)
            return engine.built

    fake = gpu("10.3.0")
    assert start() is True and start() is False and len(fake.builds) == 1
    fake = gpu("10.4.0")  # TensorRT upgraded (an old engine would not even deserialize)
    assert start() is True and start() is False
    gpu("10.4.0", name="Xavier", cc=(8, 7))  # the SD card moved to another board
    assert start() is True
    gpu("10.4.0", name="Xavier", cc=(7, 2))  # same name, another compute capability
    assert start() is True
    _replace_onnx(bundle, (bundle / "model_fp16.onnx").read_bytes() + b"\0")  # a new model
    assert start() is True and start() is False
    engines = sorted(cache.glob("*.engine"))
    assert len(engines) == 1  # each rebuild removed this bundle's previous engine


def test_engines_are_freed_on_close(gpu, bundle: Path, tmp_path: Path) -> None:
    gpu()
    engine = open_engine(bundle, backend="tensorrt", cache_dir=tmp_path)
    cuda = gpu.state["cuda"]
    engine.close()
    assert len(cuda.freed) == 4 and not cuda.kept  # 2 device buffers, 2 pinned host buffers
    engine.close()  # twice is harmless


def test_a_graph_tensorrt_cannot_parse_is_one_line(gpu, bundle: Path, tmp_path: Path) -> None:
    gpu()
    path = _replace_onnx(bundle, b"\x08\x07" + b"\x00" * 5000)
    with pytest.raises(EngineError) as caught:
        open_engine(bundle, backend="tensorrt", cache_dir=tmp_path)
    assert str(caught.value) == (f"tensorrt backend: cannot parse {path} (In node -1 "
                                 "(parseGraph): INVALID_GRAPH: Assertion failed: model is not ONNX)")


def test_a_slow_build_reports_progress_and_calls_keepalive(gpu, bundle: Path, tmp_path: Path,
                                                          caplog) -> None:
    import logging
    import threading

    caplog.set_level(logging.INFO)
    fake = gpu()
    calls = threading.Event()
    original = fake.Builder.build_serialized_network

    def slow(self, network, config):  # a build that lasts until progress was reported
        assert calls.wait(60), "no keepalive during the build"
        return original(self, network, config)

    fake.Builder.build_serialized_network = slow
    engine = trt_backend.TensorRTEngine(load_bundle(bundle), cache_dir=tmp_path,
                                        keepalive=calls.set, progress_every_s=0.05)
    engine.close()
    assert "tensorrt: building a FP16 engine for camvid-unet from model_fp16.onnx on Orin" in caplog.text
    assert "tensorrt: still building the engine" in caplog.text


def _replace_onnx(bundle: Path, data: bytes) -> Path:
    path = bundle / "model_fp16.onnx"
    path.write_bytes(data)
    manifest = yaml.safe_load((bundle / MANIFEST).read_text())
    manifest["files"]["onnx"].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (bundle / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


# -- the app with --backend tensorrt where there is none ------------------------------------


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt and a GPU are installed here")
def test_the_app_refuses_backend_tensorrt_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "app.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"uri": "test://"}, "model": {"bundle": str(SHIPPED), "backend": "tensorrt"},
        "display": {"enabled": False}, "record": {"enabled": False},
        "telemetry": {"enabled": False}}))
    result = subprocess.run([sys.executable, "-m", "app", "--config", str(config),
                             "--max-frames", "1"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: model.backend: tensorrt backend: ")
