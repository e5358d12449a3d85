"""ONNX Runtime running the .onnx (fp16, or int8 QDQ): TensorRT or CUDA on a Jetson, the CPU as a
last resort."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from models.bundle import Bundle, BundleError
from models.engines.base import (
    Engine,
    EngineError,
    check_class_count,
    import_runtime,
    loop_batch,
)
from models.engines.trt_cache import default_cache_dir

log = logging.getLogger(__name__)

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
DEFAULT_PROVIDERS = ("tensorrt", "cuda", "cpu")
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def available_providers() -> list[str]:
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


def choose_providers(names: list[str] | tuple[str, ...] | None,
                     available: list[str]) -> list[str]:
    """Short names (tensorrt, cuda, cpu) in order of preference -> the available ORT providers."""
    chosen = []
    for short in names or DEFAULT_PROVIDERS:
        full = PROVIDERS.get(short.lower())
        if full is None:
            raise EngineError(f"onnx backend: unknown provider {short!r} (known: tensorrt, cuda, cpu)")
        if full in available:
            chosen.append(full)
        else:
            log.info("onnx: %s is not available here, skipped", full)
    if not chosen:
        raise EngineError(
            f"onnx backend: none of the providers {list(names or DEFAULT_PROVIDERS)} is available "
            f"(this onnxruntime has {', '.join(available) or 'none'})"
        )
    return chosen


def provider_options(chosen: list[str], cache_dir: str | Path | None,
                     precision: str = "fp16") -> list[dict[str, Any]]:
    """Per-provider options: TensorRT builds fp16 engines and caches them on disk. An int8 (QDQ)
    graph also needs the int8 flag: TensorRT 8 honours Q/DQ nodes only with it; the layers
    between them stay fp16. No calibration table: the scales are in the graph."""
    options: list[dict[str, Any]] = [{} for _ in chosen]
    if "TensorrtExecutionProvider" in chosen:
        cache = Path(cache_dir) if cache_dir else default_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        trt: dict[str, Any] = {
            "trt_fp16_enable": True,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache),
        }
        if precision == "int8":
            trt["trt_int8_enable"] = True
        options[chosen.index("TensorrtExecutionProvider")] = trt
    return options


class OnnxEngine(Engine):
    backend = "onnx"

    def __init__(self, bundle: Bundle, providers: list[str] | None = None,
                 threads: int | None = None, cache_dir: str | Path | None = None,
                 fmt: str | None = None, spinning: bool = True) -> None:
        super().__init__(bundle)
        path = self._choose_file(fmt)
        ort = import_runtime(self.backend, "onnxruntime", "onnxruntime", "pip install onnxruntime, "
                             "or onnxruntime-gpu / the Jetson wheel for GPUs")
        chosen = choose_providers(providers, ort.get_available_providers())
        options = provider_options(chosen, cache_dir, self.precision)
        settings = ort.SessionOptions()
        settings.log_severity_level = 3  # errors only; warnings go through our log lines
        if threads:
            settings.intra_op_num_threads = threads
        if not spinning:  # idle threads block at once instead of busy-waiting for the next run
            settings.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=settings, providers=chosen, provider_options=options
            )
        except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph types
            message = " ".join(str(error).split())[:200]
            raise BundleError(f"{path}: onnxruntime cannot load it ({message})") from None
        self.provider = self._session.get_providers()[0]
        self._check_graph(path)
        log.debug("onnx: %s (%s) on %s", path.name, self.precision, self.provider)  # the app logs describe()

    @property
    def device(self) -> str:
        if self.provider not in GPU_PROVIDERS:
            return "CPU"
        from models.engines.cuda import gpu_name

        return gpu_name()

    def _check_graph(self, path: Path) -> None:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        self._input_name = inputs[0].name
        shape = inputs[0].shape
        fixed = [d if isinstance(d, int) else None for d in shape]
        if inputs[0].type != "tensor(uint8)" or (
            fixed[1:3] != [None, None] and tuple(fixed[1:3]) != self.bundle.input_size
        ):
            raise BundleError(
                f"{self.bundle.manifest_path}: says {self.bundle.input.height}x"
                f"{self.bundle.input.width} uint8 but {path.name} takes {shape} {inputs[0].type}"
            )
        self._batch = fixed[0]
        out_shape = outputs[0].shape
        if len(out_shape) == 4 and isinstance(out_shape[-1], int):
            channels: int | None = out_shape[-1]
        else:  # labels: the converter records the channels before the argmax
            meta = self._session.get_modelmeta().custom_metadata_map
            channels = int(meta["num_classes"]) if "num_classes" in meta else None
        check_class_count(self.bundle, channels, path.name)

    def _run(self, frames: np.ndarray) -> np.ndarray:
        if self._batch is None:  # a graph with a free batch axis takes them all at once
            return self._run_one(frames)
        return loop_batch(self._run_one, frames)

    def _run_one(self, frames: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input_name: frames})[0]

    def close(self) -> None:
        self._session = None  # type: ignore[assignment]
