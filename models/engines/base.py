"""The Engine interface: uint8 BGR frames at the bundle's input size in, uint8 labels out."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from models.bundle import MANIFEST, Bundle, BundleError
from models.labels import labels_fit_channels, labels_from_probabilities
from models.letterbox import fits_stride

log = logging.getLogger(__name__)


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

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle

    @property
    def name(self) -> str:
        return f"{self.bundle.name} ({self.backend})"

    @property
    def precision(self) -> str:
        return self.bundle.precision

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


def loop_batch(run_one, frames: np.ndarray) -> np.ndarray:
    """Run a fixed-batch-1 graph over N frames."""
    if len(frames) == 1:
        return run_one(frames)
    return np.concatenate([run_one(frames[i:i + 1]) for i in range(len(frames))])


def model_path(bundle: Bundle, fmt: str, backend: str) -> Path:
    """The bundle's file for a format, or an EngineError saying the backend needs it."""
    if fmt not in bundle.files:
        have = ", ".join(sorted(bundle.files)) or "none"
        raise EngineError(
            f"{bundle.manifest_path}: no {fmt} model in this bundle (has: {have}); "
            f"the {backend} backend needs one"
        )
    return bundle.path_of(fmt)
