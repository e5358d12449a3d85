"""The Engine interface: uint8 BGR frames at the bundle's input size in, uint8 labels out."""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from pathlib import Path
from types import ModuleType

import numpy as np

from models.bundle import FORMAT_PRECISION, MANIFEST, Bundle, BundleError
from models.labels import labels_fit_channels, labels_from_probabilities
from models.letterbox import fits_stride

log = logging.getLogger(__name__)

# the bundle formats each runtime backend runs (same graph contract, fp16 or int8 weights)
BACKEND_FORMATS: dict[str, tuple[str, ...]] = {
    "litert": ("tflite", "tflite-int8"),
    "onnx": ("onnx", "onnx-int8"),
}


class EngineError(RuntimeError):
    """An engine that cannot run here (missing runtime, format not in the bundle); one line."""


RUNTIME_NAMES = {"litert": "LiteRT", "onnx": "ONNX Runtime", "tensorrt": "TensorRT"}


class Engine(ABC):
    """One backend running one bundle. Subclasses implement `_run` for a single frame or a batch."""

    backend: str = "?"
    provider: str | None = None  # the runtime's execution provider, for those that have them
    threads: int | None = None  # CPU threads, when the backend was given a number
    # Set by open_engine(backend="auto"): "tensorrt: <why not>" for each backend passed over.
    skipped: tuple[str, ...] = ()
    format: str = "?"  # the bundle format this engine runs (tflite, onnx-int8, ...)

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle

    def _choose_file(self, fmt: str | None) -> Path:
        """Sets `format` to the bundle file this backend runs (choose_format); its path."""
        self.format = choose_format(self.bundle, self.backend, fmt)
        return self.bundle.path_of(self.format)

    @property
    def precision(self) -> str:
        return FORMAT_PRECISION.get(self.format, "fp32")

    @property
    def name(self) -> str:
        return f"{self.bundle.name} ({self.backend})"

    @property
    def device(self) -> str:
        """Where the model runs: "CPU", or the GPU's name."""
        return "CPU"

    @property
    def on_gpu(self) -> bool:
        return self.device != "CPU"

    def describe(self) -> str:
        """What runs the model, e.g. 'TensorRT FP16 on Orin', 'LiteRT fp16 on CPU (2 threads)'."""
        words = [RUNTIME_NAMES.get(self.backend, self.backend)]
        if self.provider:
            words.append(self.provider)
        words += [self.precision, "on", self.device]
        if not self.on_gpu and self.threads:
            words.append(f"({self.threads} thread{'s' if self.threads != 1 else ''})")
        return " ".join(words)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.bundle.input_size

    @property
    def classes(self) -> tuple[str, ...]:
        return self.bundle.classes

    @property
    def palette(self) -> np.ndarray:
        return self.bundle.palette

    def infer(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 BGR -> (N, H, W) uint8 labels."""
        self._check(frames)
        out = self._run(np.ascontiguousarray(frames))
        return labels_from_probabilities(out)

    @abstractmethod
    def _run(self, frames: np.ndarray) -> np.ndarray:
        """The graph's output for a checked batch: labels, or probabilities (N, H, W, C)."""

    def close(self) -> None:  # noqa: B027  (most backends free everything on garbage collection)
        """Release the runtime's resources."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, frames: np.ndarray) -> None:
        if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4:
            got = getattr(frames, "dtype", type(frames).__name__), getattr(frames, "shape", "")
            raise ValueError(f"frames must be a uint8 (N, H, W, 3) array, got {got}")
        n, h, w, c = frames.shape
        if c != 3 or n == 0:
            raise ValueError(f"frames must be (N>0, H, W, 3), got {frames.shape}")
        if (h, w) != self.input_size and not (
            self.bundle.input.dynamic_size and fits_stride(h, w)
        ):
            raise ValueError(
                f"frames are {h}x{w} but {self.bundle.name} takes "
                f"{self.input_size[0]}x{self.input_size[1]}: resize or letterbox first"
            )


def check_class_count(bundle: Bundle, channels: int | None, model_file: str) -> None:
    """The manifest's classes must be what the graph outputs (one sigmoid channel = 2 labels)."""
    if channels is None:
        log.warning("%s: cannot read the class count from the graph; trusting %s",
                    model_file, MANIFEST)
        return
    n = len(bundle.classes)
    if labels_fit_channels(n, channels):
        return
    raise BundleError(
        f"{bundle.manifest_path}: lists {n} classes but {model_file} outputs {channels} "
        f"channel{'s' if channels != 1 else ''}"
    )


def import_runtime(backend: str, module: str, package: str, how: str) -> ModuleType:
    """The runtime's module, or an EngineError naming the package to install and how."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise EngineError(f"{backend} backend: {package} is not installed ({how})") from None


def loop_batch(run_one, frames: np.ndarray) -> np.ndarray:
    """Run a fixed-batch-1 graph over N frames."""
    if len(frames) == 1:
        return run_one(frames)
    return np.concatenate([run_one(frames[i:i + 1]) for i in range(len(frames))])


def choose_format(bundle: Bundle, backend: str, fmt: str | None = None) -> str:
    """The format a backend runs: `fmt` when given, else the bundle's own precision first
    (`precision: int8` in model.yaml makes the engines pick the int8 file when both exist)."""
    runnable = BACKEND_FORMATS[backend]
    if fmt is not None:
        if fmt not in runnable:
            raise EngineError(f"the {backend} backend runs {' or '.join(runnable)}, not {fmt}")
        candidates: tuple[str, ...] = (fmt,)
    else:
        candidates = tuple(sorted(runnable,
                                  key=lambda f: FORMAT_PRECISION[f] != bundle.precision))
    for candidate in candidates:
        if candidate in bundle.files:
            return candidate
    have = ", ".join(sorted(bundle.files)) or "none"
    raise EngineError(
        f"{bundle.manifest_path}: no {' or '.join(candidates)} model in this bundle "
        f"(has: {have}); the {backend} backend needs one"
    )
