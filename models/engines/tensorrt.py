"""TensorRT on the GPU: an FP16 engine built from the bundle's ONNX file, cached, run with
device buffers.

Needs only what JetPack installs: the `tensorrt` Python module and libcudart (models/engines/
cuda.py). The name-based tensor API (`set_tensor_address`, `execute_async_v3`) is the one used,
so TensorRT 8.5 or later (JetPack 5.1+, 6.x: 8.6 and 10.x); the older bindings API is refused.
TensorRT 11 removed `BuilderFlag.FP16`: there the graph's own types decide (the bundle's ONNX
file is fp16 already).
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.bundle import Bundle
from models.engines.base import Engine, EngineError, check_class_count, choose_format, loop_batch
from models.engines.cuda import CudaRuntime, GpuInfo, first_gpu
from models.engines.trt_cache import CacheKey, EngineCache, default_cache_dir, load_or_build
from models.errors import first_line

log = logging.getLogger(__name__)

MIN_VERSION = (8, 5)
# The builder's scratch memory. A Jetson's GPU shares the system RAM: without a cap TensorRT may
# try tactics that take most of a 4 GB Nano's memory.
WORKSPACE_BYTES = 512 << 20
PROGRESS_EVERY_S = 30.0
INSTALL = ("JetPack: apt install python3-libnvinfer and a venv made with "
           "--system-site-packages; elsewhere: pip install tensorrt")


def import_tensorrt() -> Any:
    """The tensorrt module, or an EngineError of one line saying what is missing."""
    try:
        import tensorrt as trt
    except ImportError as error:
        if getattr(error, "name", None) == "tensorrt":
            raise EngineError(f"tensorrt backend: the tensorrt Python module is not installed "
                              f"({INSTALL})") from None
        raise EngineError(f"tensorrt backend: the tensorrt module does not load "
                          f"({first_line(error)})") from None
    except OSError as error:  # libnvinfer.so missing under the bindings
        raise EngineError(f"tensorrt backend: the tensorrt module does not load "
                          f"({first_line(error)})") from None
    version = version_tuple(getattr(trt, "__version__", "0"))
    if version < MIN_VERSION:
        raise EngineError(f"tensorrt backend: TensorRT {trt.__version__} is older than "
                          f"{MIN_VERSION[0]}.{MIN_VERSION[1]} (the name-based tensor API; "
                          "JetPack 5.1 or later)")
    return trt


def version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for part in str(text).split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def availability() -> tuple[str | None, str]:
    """(None, 'TensorRT 10.3.0 on Orin (sm 8.7)') when this backend can run, else (reason, '')."""
    try:
        trt = import_tensorrt()
        _cuda, gpu = first_gpu()
    except EngineError as error:  # the install hint is the caller's to give, once
        return str(error).removeprefix("tensorrt backend: ").replace(f" ({INSTALL})", ""), ""
    return None, f"TensorRT {trt.__version__} on {gpu.name} (sm {gpu.sm})"


def fp16_precision(trt: Any, builder: Any | None = None) -> str:
    """'FP16' when the builder flag exists and the GPU has fast fp16, else what runs instead."""
    if not hasattr(trt.BuilderFlag, "FP16"):
        return "FP16 (typed)"  # TensorRT 11: strongly typed, the fp16 graph's own types
    if builder is not None and not getattr(builder, "platform_has_fast_fp16", True):
        return "FP32"
    return "FP16"


def make_logger(trt: Any) -> Any:
    """A trt.ILogger that sends TensorRT's messages to our log and keeps the last error."""

    class Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.last_error: str | None = None

        def log(self, severity: Any, msg: str) -> None:
            text = " ".join(str(msg).split())
            if severity in (trt.Logger.INTERNAL_ERROR, trt.Logger.ERROR):
                # A warning: what follows (a rebuild, a fallback, one error line) says more.
                self.last_error = text
                log.warning("tensorrt: %s", text)
            else:  # a build logs dozens of warnings, none a user can act on
                log.debug("tensorrt: %s", text)

    return Logger()


def build_serialized(trt: Any, logger: Any, onnx_path: Path, input_shape: tuple[int, ...],
                     precision: str) -> bytes:
    """Parse the ONNX file and build a serialized engine for one fixed input shape."""
    builder = trt.Builder(logger)
    flags = 0
    explicit = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    if explicit is not None and version_tuple(trt.__version__) < (10,):
        flags = 1 << int(explicit)  # required by 8.x for ONNX; ignored (deprecated) in 10.x
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        first = " ".join(errors[0].split()) if errors else "no error given"
        raise EngineError(f"tensorrt backend: cannot parse {onnx_path} ({first})")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision == "FP16":
        config.set_flag(trt.BuilderFlag.FP16)
    profile = None
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        if any(int(d) < 0 for d in tensor.shape):  # a free batch (or size): pin it
            profile = profile or builder.create_optimization_profile()
            profile.set_shape(tensor.name, input_shape, input_shape, input_shape)
    if profile is not None:
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        why = getattr(logger, "last_error", None) or "see TensorRT's messages above"
        raise EngineError(f"tensorrt backend: building the engine from {onnx_path} failed ({why})")
    return bytes(memoryview(serialized))


class _Progress:
    """While a build runs: a line every `every_s`, and `keepalive()` (systemd's start timeout)."""

    def __init__(self, every_s: float, keepalive: Callable[[], object] | None) -> None:
        self.every_s = every_s
        self.keepalive = keepalive
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trt-build-progress", daemon=True)
        self._start = time.monotonic()

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._done.wait(self.every_s):
            minutes, seconds = divmod(int(time.monotonic() - self._start), 60)
            log.info("tensorrt: still building the engine (%d min %02d s so far)", minutes, seconds)
            if self.keepalive is not None:
                self.keepalive()


class TensorRTEngine(Engine):
    backend = "tensorrt"

    def __init__(self, bundle: Bundle, cache_dir: str | Path | None = None,
                 keepalive: Callable[[], object] | None = None,
                 progress_every_s: float = PROGRESS_EVERY_S) -> None:
        super().__init__(bundle)
        self._cuda: CudaRuntime | None = None
        self._buffers: list[int] = []
        self._host: list[int] = []
        self._stream = 0
        path = bundle.path_of(choose_format(bundle, "onnx", "onnx"))  # FP16 is built from the fp16 file
        trt = import_tensorrt()
        cuda, gpu = first_gpu()
        self._cuda, self.gpu = cuda, gpu
        self._trt = trt
        self._logger = make_logger(trt)
        self._runtime = trt.Runtime(self._logger)
        self._precision = fp16_precision(trt, trt.Builder(self._logger))
        shape = (1, *bundle.input_size, 3)
        key = CacheKey(bundle.name, bundle.files["onnx"].sha256, str(trt.__version__), gpu.name,
                       gpu.sm, self._precision, shape)
        cache = EngineCache(Path(cache_dir) if cache_dir else default_cache_dir())

        def build() -> bytes:
            log.info("tensorrt: building a %s engine for %s from %s on %s (first start, or the "
                     "bundle, TensorRT or GPU changed); this takes minutes on a Jetson Nano",
                     self._precision, bundle.name, path.name, gpu.name)
            started = time.monotonic()
            with _Progress(progress_every_s, keepalive):
                blob = build_serialized(trt, self._logger, path, shape, self._precision)
            log.info("tensorrt: engine built in %.0f s", time.monotonic() - started)
            return blob

        self._engine, self.built = load_or_build(cache, key, build,
                                                 self._runtime.deserialize_cuda_engine,
                                                 bundle_root=bundle.root)
        self._context = self._engine.create_execution_context()
        self._setup_io(shape, path)

    @property
    def precision(self) -> str:
        return self._precision

    @property
    def device(self) -> str:
        return self.gpu.name

    def _setup_io(self, shape: tuple[int, ...], path: Path) -> None:
        trt, engine, cuda = self._trt, self._engine, self._cuda
        assert cuda is not None
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        if len(inputs) != 1 or not outputs:
            raise EngineError(f"tensorrt backend: {path.name} has {len(inputs)} inputs and "
                              f"{len(outputs)} outputs (expected 1 and 1)")
        self._input_name, self._output_name = inputs[0], outputs[0]
        if any(int(d) < 0 for d in engine.get_tensor_shape(self._input_name)):
            self._context.set_input_shape(self._input_name, shape)
        in_dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(self._input_name)))
        out_dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(self._output_name)))
        out_shape = tuple(int(d) for d in self._context.get_tensor_shape(self._output_name))
        if in_dtype != np.uint8:
            raise EngineError(f"tensorrt backend: {path.name} takes {in_dtype.name}, not uint8")
        if len(out_shape) == 4:
            check_class_count(self.bundle, out_shape[-1], path.name)
        self._stream = cuda.stream_create()
        self._host_in = self._pinned(shape, in_dtype)
        self._host_out = self._pinned(out_shape, out_dtype)
        for name, array in ((self._input_name, self._host_in), (self._output_name, self._host_out)):
            pointer = cuda.malloc(array.nbytes)
            self._buffers.append(pointer)
            self._context.set_tensor_address(name, pointer)
        log.debug("tensorrt: %s %s -> %s %s", shape, in_dtype, out_shape, out_dtype)

    def _pinned(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        assert self._cuda is not None
        nbytes = int(np.prod(shape)) * dtype.itemsize
        pointer = self._cuda.malloc_host(nbytes)
        self._host.append(pointer)
        raw = (ctypes.c_uint8 * nbytes).from_address(pointer)
        return np.frombuffer(raw, dtype=dtype).reshape(shape)

    def _check(self, frames: np.ndarray) -> None:
        super()._check(frames)
        if frames.shape[1:3] != self.input_size:  # dynamic_size bundles: built for one size
            raise ValueError(f"frames are {frames.shape[1]}x{frames.shape[2]} but the TensorRT "
                             f"engine is built for {self.input_size[0]}x{self.input_size[1]}")

    def _run(self, frames: np.ndarray) -> np.ndarray:
        return loop_batch(self._run_one, frames)

    def _run_one(self, frame: np.ndarray) -> np.ndarray:
        cuda = self._cuda
        assert cuda is not None
        np.copyto(self._host_in, frame)
        cuda.copy_to_device(self._buffers[0], self._host_in.ctypes.data, self._host_in.nbytes,
                            self._stream)
        if not self._context.execute_async_v3(self._stream):
            raise RuntimeError(f"tensorrt: inference failed ({self._logger.last_error or '?'})")
        cuda.copy_to_host(self._host_out.ctypes.data, self._buffers[1], self._host_out.nbytes,
                          self._stream)
        cuda.synchronize(self._stream)
        return self._host_out.copy()

    def close(self) -> None:
        cuda, self._cuda = self._cuda, None
        if cuda is None:
            return
        self._context = self._engine = None  # before the memory they point into
        for pointer in self._buffers:
            cuda.free(pointer)
        for pointer in self._host:
            cuda.free_host(pointer)
        if self._stream:
            cuda.stream_destroy(self._stream)
        self._buffers, self._host, self._stream = [], [], 0


__all__ = ["GpuInfo", "TensorRTEngine", "availability", "build_serialized", "import_tensorrt"]
