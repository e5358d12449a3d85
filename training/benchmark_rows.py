"""The engine rows of `python -m training benchmark`: which (format, backend) rows this machine
can run, opening them, and one pass that scores every engine on the split (training/scoring.py)
and times its infer() calls, image by image round-robin so machine noise hits all rows alike."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from models.bundle import FORMAT_PRECISION, Bundle
from models.engines import Engine, EngineError, open_engine
from models.engines.base import BACKEND_FORMATS
from models.letterbox import Letterbox

ONNX_PROVIDERS = ("tensorrt", "cuda", "cpu")


@dataclass(frozen=True)
class Spec:
    """One engine row: a bundle format on a backend with its threads or provider."""

    fmt: str
    backend: str  # litert | onnx | tftrt | keras
    threads: int | None = None
    provider: str | None = None  # onnx: tensorrt | cuda | cpu

    @property
    def key(self) -> str:
        where = self.provider or (f"{self.threads} thread{'s' * (self.threads != 1)}"
                                  if self.threads else "")
        backend = "" if self.backend == "keras" else self.backend
        return " ".join(part for part in (self.fmt, backend, where) if part)

    @property
    def precision(self) -> str:
        return FORMAT_PRECISION.get(self.fmt, "fp32")

    @property
    def runs_in_app(self) -> bool:
        return self.backend in BACKEND_FORMATS


@dataclass
class Row:
    key: str
    format: str
    backend: str
    device: str
    precision: str
    file_bytes: int | None
    frames: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    fps: float = 0.0
    miou: float = 0.0
    global_accuracy: float = 0.0
    agreement: float | None = None
    gmacs: float | None = None  # achieved GMAC/s


# --- which rows -------------------------------------------------------------------------------


def plan_rows(bundle: Bundle, cores: int) -> tuple[list[Spec], list[dict[str, str]]]:
    """Every (format, backend) this machine can try, and the ones it cannot, with the reason."""
    from models.engines.onnx import PROVIDERS, available_providers

    specs: list[Spec] = []
    skipped: list[dict[str, str]] = []
    providers = available_providers()
    for fmt in bundle.files:
        if fmt in BACKEND_FORMATS["litert"]:
            specs.append(Spec(fmt, "litert", threads=cores))
            if cores > 1:
                specs.append(Spec(fmt, "litert", threads=1))
        elif fmt in BACKEND_FORMATS["onnx"]:
            for short in ONNX_PROVIDERS:
                if PROVIDERS[short] in providers:
                    specs.append(Spec(fmt, "onnx", provider=short))
                else:
                    skipped.append({"row": Spec(fmt, "onnx", provider=short).key,
                                    "reason": f"this onnxruntime has no {PROVIDERS[short]} "
                                              f"(has {', '.join(providers) or 'none'})"})
        elif fmt == "tftrt":
            specs.append(Spec(fmt, "tftrt"))
    specs.insert(0, Spec("keras", "keras"))  # first: the reference when it opens
    return specs, skipped


def open_row(bundle: Bundle, spec: Spec) -> Engine:
    if spec.backend == "keras":
        from training.keras_engine import KerasEngine

        return KerasEngine(bundle)
    if spec.backend == "tftrt":
        return TFTRTEngine(bundle)
    if spec.backend == "onnx":
        from models.engines.onnx import OnnxEngine

        # ONNX Runtime's idle threads busy-wait for the next run by default, which here takes
        # the cores from the engine timed next (measured: LiteRT 2 threads 267 -> 225 ms p50)
        return OnnxEngine(bundle, providers=[spec.provider] if spec.provider else None,
                          threads=spec.threads, fmt=spec.fmt, spinning=False)
    return open_engine(bundle, backend=spec.backend, threads=spec.threads, fmt=spec.fmt)


def device_of(spec: Spec, engine: Engine | None = None) -> str:
    if spec.backend == "onnx":
        from models.engines.onnx import PROVIDERS

        return getattr(engine, "provider", None) or PROVIDERS.get(spec.provider or "", "?")
    if spec.threads:
        return f"CPU, {spec.threads} thread{'s' * (spec.threads != 1)}"
    return {"keras": "TensorFlow, its own threads", "tftrt": "TensorRT (TF-TRT)"}[spec.backend]


class TFTRTEngine(Engine):
    """The bundle's TF-TRT SavedModel through TensorFlow (only where TensorFlow has TensorRT)."""

    backend = "tftrt"
    format = "tftrt"

    def __init__(self, bundle: Bundle) -> None:
        super().__init__(bundle)
        try:
            from training.export import tensorrt_missing
            from training.framework import tf
        except ImportError as error:
            raise EngineError(f"tftrt: needs TensorFlow ({error})") from None
        if reason := tensorrt_missing():
            raise EngineError(f"tftrt: {reason}")
        self._tf = tf
        loaded = tf.saved_model.load(str(bundle.path_of("tftrt")))
        self._serve = loaded.signatures["serving_default"]

    def _run(self, frames: np.ndarray) -> np.ndarray:
        out = self._serve(self._tf.constant(frames))
        return next(iter(out.values())).numpy()


class Timed:
    """An engine whose infer() calls are timed (what scoring and the extra rounds call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seconds: list[float] = []

    @property
    def input_size(self) -> tuple[int, int]:
        return self.engine.input_size

    def infer(self, frames: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        labels = self.engine.infer(frames)
        self.seconds.append(time.perf_counter() - started)
        return labels


# --- progress ---------------------------------------------------------------------------------


def progress_bar(total: int, what: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """(advance, close): tqdm where training's requirements are installed, else a plain line."""
    try:
        from tqdm import tqdm
    except ImportError:
        step = max(1, total // 10)
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            if done[0] % step < n or done[0] == total:
                print(f"{what}: {done[0]}/{total}", file=sys.stderr, flush=True)

        return advance, lambda: None
    bar = tqdm(total=total, desc=what, unit="frame", file=sys.stderr, leave=False)
    return bar.update, bar.close


# --- the engine pass --------------------------------------------------------------------------


def letterboxed_frames(split, height: int, width: int, count: int) -> Iterator[np.ndarray]:
    """`count` model inputs from the split's images in order, cycling."""
    letterbox = Letterbox(height, width)
    for i in range(count):
        image, _ = split.dataset.sample_indices(i % len(split))
        canvas, _ = letterbox.fit(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        yield canvas[None].copy()


def measure(bundle: Bundle, split, engines: dict[str, Engine], reference: str | None,
            frames: int, warmup: int) -> dict[str, Any]:
    """Scores over the whole split and timings over at least `frames` calls per engine."""
    from training.scoring import score_engines

    height, width = bundle.input_size
    warm = np.zeros((1, height, width, 3), np.uint8)
    for engine in engines.values():
        for _ in range(warmup):
            engine.infer(warm)
    timed = {key: Timed(engine) for key, engine in engines.items()}
    extra = max(0, frames - len(split))
    advance, close = progress_bar(len(split) + extra, f"{len(engines)} engines")
    try:
        scored = score_engines(split, timed, reference, progress=lambda done, total: advance(1))
        for frame in letterboxed_frames(split, height, width, extra):  # timed only
            for engine in timed.values():
                engine.infer(frame)
            advance(1)
    finally:
        close()
    return {key: (scored[key], timed[key].seconds) for key in engines}


def engine_rows(bundle: Bundle, specs: dict[str, Spec], engines: dict[str, Engine],
                measured: dict[str, Any], macs: int | None) -> list[Row]:
    rows = []
    for key, (score, seconds) in measured.items():
        spec = specs[key]
        ms = np.array(seconds) * 1000
        fps = len(seconds) / sum(seconds)
        entry = bundle.files.get(spec.fmt)
        rows.append(Row(
            key=key, format=spec.fmt, backend=spec.backend, device=device_of(spec, engines[key]),
            precision=spec.precision, file_bytes=entry.bytes if entry else
            bundle.provenance.get("fp32_bytes"), frames=len(seconds),
            p50_ms=round(float(statistics.median(ms)), 2),
            p95_ms=round(float(np.percentile(ms, 95)), 2), fps=round(fps, 2),
            miou=score.scores.miou, global_accuracy=score.scores.global_accuracy,
            agreement=score.agreement, gmacs=round(macs * fps / 1e9, 2) if macs else None,
        ))
    return rows


def count_macs(bundle: Bundle) -> tuple[int | None, str]:
    from models.engines.litert import graph_macs

    for fmt in ("tflite", "tflite-int8"):
        if fmt in bundle.files:
            try:
                macs = graph_macs(bundle.path_of(fmt).read_bytes())
            except ImportError:
                return None, "ai-edge-litert is not installed (it reads the TFLite graph)"
            return macs, (f"{bundle.files[fmt].path}: conv, depthwise, transposed conv and "
                          f"fully-connected layers at {bundle.input.height}x"
                          f"{bundle.input.width}")
    return None, "no TFLite file to count from"
