"""Inference engines: one interface, several backends, chosen from the bundle and config.

Importing this package imports no runtime: each backend imports its own (tensorrt,
ai-edge-litert, onnxruntime) when it is opened or checked. The fp32 Keras reference needs
TensorFlow, so it lives with training (`training/keras_engine.py`, used by
`python -m training evaluate`).

`auto` tries, in order: TensorRT (the bundle's ONNX file built into an engine), ONNX Runtime with
its TensorRT/CUDA providers, LiteRT on the CPU, ONNX Runtime on the CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.bundle import Bundle, load_bundle
from models.engines.base import Engine, EngineError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "tensorrt", "litert", "onnx")
KERAS_REFERENCE = (
    "the keras backend (the fp32 reference) needs TensorFlow and is not part of the app; "
    "run it with `python -m training evaluate --checkpoint ...` (or `--bundle ... --backend keras`)"
)

__all__ = ["BACKENDS", "KERAS_REFERENCE", "BackendCheck", "Engine", "EngineError",
           "check_backends", "choose_backend", "open_engine"]


@dataclass(frozen=True)
class BackendCheck:
    """One candidate of `auto`: whether it can run the bundle here, and why (not)."""

    backend: str  # what open_engine takes: tensorrt | onnx | litert
    label: str  # as a person reads it: "onnx (TensorRT/CUDA)"
    ok: bool
    detail: str  # ok: what it runs on; else: why not, one line
    gpu: bool


def check_backends(bundle: Bundle, providers: list[str] | None = None) -> list[BackendCheck]:
    """Every candidate of `auto`, in its order of preference."""
    from models.engines import onnx, tensorrt

    checks = []
    has_onnx, has_tflite = "onnx" in bundle.files, "tflite" in bundle.files
    no_onnx = f"the bundle has no onnx file (has: {', '.join(sorted(bundle.files))})"
    if has_onnx:
        reason, detail = tensorrt.availability()
        checks.append(BackendCheck("tensorrt", "tensorrt", reason is None, reason or detail, True))
    else:
        checks.append(BackendCheck("tensorrt", "tensorrt", False, no_onnx, True))

    available = onnx.available_providers()
    version = _version("onnxruntime")
    wanted = ({onnx.PROVIDERS.get(p.lower()) for p in providers} if providers
              else set(onnx.GPU_PROVIDERS))
    gpu = [p for p in onnx.GPU_PROVIDERS if p in available and p in wanted]
    if not has_onnx:
        why = no_onnx
    elif not available:
        why = "onnxruntime is not installed"
    elif not gpu:
        have = ", ".join(p.removesuffix("ExecutionProvider") for p in available)
        why = (f"onnxruntime {version} has no TensorRT/CUDA provider (has {have}; the GPU "
               "build is onnxruntime-gpu, or NVIDIA's Jetson wheel)")
        if any(p in available for p in onnx.GPU_PROVIDERS):
            why = "model.providers leaves out TensorRT and CUDA"
    else:
        why = ""
    checks.append(BackendCheck("onnx", "onnx (TensorRT/CUDA)", not why,
                               why or f"onnxruntime {version}: {', '.join(gpu)}", True))

    if not has_tflite:
        why = f"the bundle has no tflite file (has: {', '.join(sorted(bundle.files))})"
    elif not _has_module("ai_edge_litert"):
        why = "ai-edge-litert is not installed (pip install ai-edge-litert)"
    else:
        why = ""
    checks.append(BackendCheck("litert", "litert", not why,
                               why or f"ai-edge-litert {_version('ai-edge-litert')} on the CPU",
                               False))

    cpu_ok = has_onnx and "CPUExecutionProvider" in available
    why = no_onnx if not has_onnx else "" if cpu_ok else "onnxruntime is not installed"
    checks.append(BackendCheck("onnx", "onnx (CPU)", cpu_ok,
                               why or f"onnxruntime {version} on the CPU", False))
    return checks


def choose_backend(bundle: Bundle, providers: list[str] | None = None) -> str:
    """The first backend in auto's order that can run `bundle` here."""
    for check in check_backends(bundle, providers):
        if check.ok:
            return check.backend
    raise EngineError(
        f"{bundle.manifest_path}: no backend can run this bundle here (files: "
        f"{', '.join(bundle.files)}; install ai-edge-litert or onnxruntime)"
    )


def open_engine(
    bundle: Bundle | str | Path,
    backend: str = "auto",
    threads: int | None = None,
    providers: list[str] | None = None,
    cache_dir: str | Path | None = None,
    keepalive: Callable[[], object] | None = None,
    fmt: str | None = None,
) -> Engine:
    """Open `bundle` (a Bundle or its folder) on a backend; auto picks the fastest one here.

    `keepalive` is called now and then while a TensorRT engine builds (minutes on a Nano);
    `fmt` picks one file (tflite-int8, onnx, ...); by default the bundle's precision wins."""
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    if backend == "keras":
        raise EngineError(KERAS_REFERENCE)
    if backend not in BACKENDS:
        raise EngineError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    if backend != "auto":
        return _open(bundle, backend, threads, providers, cache_dir, keepalive, fmt)
    checks = check_backends(bundle, providers)
    usable = [c for c in checks if c.ok]
    if not usable:
        choose_backend(bundle, providers)  # raises the one-line error
    log.info("engine: auto chose %s", usable[0].backend)
    skipped: list[str] = []  # what was passed over before the backend that opened, and why
    for check in checks:
        if not check.ok:
            skipped.append(f"{check.label}: {check.detail}")
            log.debug("engine: auto passed over %s", skipped[-1])
            continue
        later = usable[usable.index(check) + 1:]
        try:
            wanted = providers if check.gpu else ["cpu"] if check.backend == "onnx" else None
            engine = _open(bundle, check.backend, threads, wanted, cache_dir, keepalive,
                           fmt)
        except EngineError as error:  # a GPU backend that cannot build this model, say
            if not later:
                raise
            log.warning("engine: %s cannot run %s (%s); trying %s", check.label, bundle.name,
                        error, later[0].label)
            skipped.append(f"{check.label}: "
                           f"{str(error).removeprefix(f'{check.backend} backend: ')}")
            continue
        engine.skipped = tuple(skipped)
        return engine
    raise AssertionError("unreachable: the last usable backend raises or returns")


def _open(bundle: Bundle, backend: str, threads: int | None, providers: list[str] | None,
          cache_dir: str | Path | None, keepalive: Callable[[], object] | None,
          fmt: str | None = None) -> Engine:
    if backend == "tensorrt":
        from models.engines.tensorrt import TensorRTEngine

        return TensorRTEngine(bundle, cache_dir=cache_dir, keepalive=keepalive)
    if backend == "litert":
        from models.engines.litert import LiteRTEngine

        return LiteRTEngine(bundle, threads=threads, fmt=fmt)
    from models.engines.onnx import OnnxEngine

    return OnnxEngine(bundle, providers=providers, threads=threads, cache_dir=cache_dir, fmt=fmt)


def _has_module(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"
