"""Inference engines: one interface, several backends, chosen from the bundle and config.

Importing this package imports no runtime: each backend imports its own (ai-edge-litert,
onnxruntime) when it is opened. The fp32 Keras reference needs TensorFlow, so it lives with
training (`training/keras_engine.py`, used by `python -m training evaluate`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from models.bundle import Bundle, load_bundle
from models.engines.base import Engine, EngineError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "litert", "onnx")
KERAS_REFERENCE = (
    "the keras backend (the fp32 reference) needs TensorFlow and is not part of the app; "
    "run it with `python -m training evaluate --checkpoint ...` (or `--bundle ... --backend keras`)"
)

__all__ = ["BACKENDS", "KERAS_REFERENCE", "Engine", "EngineError", "choose_backend", "open_engine"]


def open_engine(
    bundle: Bundle | str | Path,
    backend: str = "auto",
    threads: int | None = None,
    providers: list[str] | None = None,
    cache_dir: str | Path | None = None,
    fmt: str | None = None,
) -> Engine:
    """Open `bundle` (a Bundle or its folder) on a backend; auto picks the fastest one here.
    `fmt` picks one file (tflite-int8, onnx, ...); by default the bundle's precision wins."""
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    if backend == "keras":
        raise EngineError(KERAS_REFERENCE)
    if backend not in BACKENDS:
        raise EngineError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    if backend == "auto":
        backend = choose_backend(bundle, providers)
        log.info("engine: auto chose %s", backend)
    if backend == "litert":
        from models.engines.litert import LiteRTEngine

        return LiteRTEngine(bundle, threads=threads, fmt=fmt)
    from models.engines.onnx import OnnxEngine

    return OnnxEngine(bundle, providers=providers, threads=threads, cache_dir=cache_dir, fmt=fmt)


def choose_backend(bundle: Bundle, providers: list[str] | None = None) -> str:
    """ONNX when a GPU provider (TensorRT/CUDA) is usable, else LiteRT, else ONNX on the CPU."""
    from models.engines.base import BACKEND_FORMATS
    from models.engines.onnx import GPU_PROVIDERS, PROVIDERS, available_providers

    available = available_providers()
    wanted = {PROVIDERS.get(p.lower()) for p in providers} if providers else set(GPU_PROVIDERS)
    has_gpu = any(p in available and p in wanted for p in GPU_PROVIDERS)
    has_onnx = any(f in bundle.files for f in BACKEND_FORMATS["onnx"])
    if has_onnx and has_gpu:
        return "onnx"
    if any(f in bundle.files for f in BACKEND_FORMATS["litert"]) and _has_module("ai_edge_litert"):
        return "litert"
    if has_onnx and available:
        return "onnx"
    raise EngineError(
        f"{bundle.manifest_path}: no backend can run this bundle here (files: "
        f"{', '.join(bundle.files)}; install ai-edge-litert or onnxruntime)"
    )


def _has_module(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None
