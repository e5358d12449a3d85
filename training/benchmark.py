"""`python -m training benchmark`: every file of a bundle on every backend here, for speed and
accuracy on a labelled split, plus the app's own frame rate on a clip of that split.

    python -m training benchmark --bundle DIR --data ROOT [--split val] [--frames N]
        [--json FILE] [--markdown FILE]

Rows: each format on each backend that can run it here (LiteRT on all cores and on one, ONNX
Runtime per available provider, TF-TRT for a tftrt folder where TensorFlow has TensorRT, fp32
Keras where TensorFlow and the bundle's source checkpoint exist); a row that cannot run says why.
Every image of the split goes through every engine before the next image, so machine noise
hits all rows alike (ONNX Runtime without its busy-waiting threads, which would take the cores
from the row timed next; the app rows run it as the app does); each row is scored as `python -m training evaluate --bundle` scores it
(training/scoring.py) and compared pixel by pixel with the reference (fp32 Keras, else the
first row). Latency is one infer() call on a letterboxed frame (pre-processing and argmax are
inside the graph). GMAC/s = the graph's multiply-accumulates per frame (counted from the TFLite
flatbuffer) x frames/s.

End-to-end rows run `python -m app` itself (a subprocess: training never imports the app) on a
clip written from the split's images, headless with recording (capture, inference, overlay,
encode), and read its steady output rate from --stats-json: frames out between the first and
the last report taken while capture was still running (start-up and the final drain left out).

No TensorFlow needed: without it the Keras (and TF-TRT) rows are skipped with the reason.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from models.bundle import FORMAT_PRECISION, Bundle, load_bundle, write_bundle
from models.engines import Engine, EngineError, open_engine
from models.engines.base import BACKEND_FORMATS
from models.letterbox import Letterbox

log = logging.getLogger("training.benchmark")

ROOT = Path(__file__).resolve().parents[1]  # the checkout: `python -m app` runs from here
CLIP_FPS = 15  # the demo clip's rate (media/README.md); the app runs clips unpaced anyway
STATS_PERIOD_S = 0.5
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


@dataclass
class AppRow:
    key: str
    backend: str
    device: str
    precision: str
    fps: float | None = None
    window_s: float | None = None
    frames: int = 0
    infer_p50_ms: float | None = None
    vs_engine: float | None = None
    gmacs: float | None = None
    note: str = ""


@dataclass
class Report:
    bundle: dict[str, Any]
    split: dict[str, Any]
    machine: dict[str, Any]
    reference: str | None
    macs_per_frame: int | None
    macs_from: str
    rows: list[Row] = field(default_factory=list)
    app_rows: list[AppRow] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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


# --- the app, end to end ----------------------------------------------------------------------


def write_clip(split, path: Path) -> tuple[int, int]:
    """The split's images as an MPEG-4 clip in split order (sizes as the first image)."""
    first, _ = split.dataset.sample_indices(0)
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"mp4v"),
                             CLIP_FPS, (width, height))
    if not writer.isOpened():
        raise EngineError(f"{path}: OpenCV cannot write an mp4v clip here")
    for i in range(len(split)):
        image, _ = split.dataset.sample_indices(i)
        if image.shape[:2] != (height, width):
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return len(split), width * height


def one_format_bundle(bundle: Bundle, fmt: str, folder: Path) -> Path:
    """A bundle with only `fmt` (a link to the file), so the app runs exactly that file."""
    folder.mkdir(parents=True)
    entry = bundle.files[fmt]
    (folder / entry.path).symlink_to(bundle.root.resolve() / entry.path)
    write_bundle(replace(bundle, root=folder, files={fmt: entry},
                         precision=FORMAT_PRECISION[fmt],
                         parity={k: v for k, v in bundle.parity.items() if k == fmt}))
    return folder


def run_app(spec: Spec, bundle_dir: Path, clip: Path, work: Path, frames: int,
            timeout: float) -> dict[str, Any]:
    """`python -m app` on the clip; its stats reports while capture was still running."""
    config = {
        "source": {"uri": str(clip), "loop": True, "realtime": False},
        "model": {"bundle": str(bundle_dir), "backend": spec.backend, "threads": spec.threads,
                  "providers": [spec.provider] if spec.provider else ["cpu"]},
        "pipeline": {"stats_interval_s": STATS_PERIOD_S},
        "display": {"enabled": False},
        "record": {"enabled": True, "dir": str(work / "recordings")},
        "telemetry": {"enabled": False},
    }
    config_path, stats = work / "app.yaml", work / "stats.json"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    command = [sys.executable, "-m", "app", "--config", str(config_path), "--headless",
               "--max-frames", str(frames), "--stats-json", str(stats), "--log-level", "WARNING"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    reports: dict[float, dict] = {}
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None:
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                return {"error": f"no end after {timeout:.0f} s"}
            _read_report(stats, reports, frames)
            time.sleep(0.05)  # polling the report file, not synchronising
    finally:
        err = process.stderr.read() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    _read_report(stats, reports, frames)
    if process.returncode != 0:
        last = (err.strip().splitlines() or ["?"])[-1]
        return {"error": f"exit {process.returncode}: {last}"}
    final = json.loads(stats.read_text()) if stats.is_file() else {}
    return {"reports": [reports[k] for k in sorted(reports)], "final": final}


def _read_report(path: Path, reports: dict[float, dict], frames: int) -> None:
    try:
        report = json.loads(path.read_text())  # written atomically by the app
    except (OSError, ValueError):
        return
    if report["frames"]["captured"] < frames:  # capture still running: steady state
        reports[report["uptime_s"]] = report


def app_row(spec: Spec, result: dict[str, Any], engine_fps: float | None,
            macs: int | None) -> AppRow:
    row = AppRow(spec.key, spec.backend, device_of(spec), spec.precision)
    if "error" in result:
        row.note = result["error"]
        return row
    reports, final = result["reports"], result["final"]
    row.frames = final.get("frames", {}).get("output", 0)
    row.infer_p50_ms = final.get("latency", {}).get("infer", {}).get("p50_ms")
    if len(reports) >= 2 and reports[-1]["uptime_s"] > reports[0]["uptime_s"]:
        first, last = reports[0], reports[-1]
        row.window_s = round(last["uptime_s"] - first["uptime_s"], 1)
        row.fps = (last["frames"]["output"] - first["frames"]["output"]) / row.window_s
        row.note = f"steady: {len(reports)} reports"
    elif final.get("uptime_s"):
        row.fps = row.frames / final["uptime_s"]
        row.window_s = final["uptime_s"]
        row.note = "whole run (too short for a steady window)"
    if row.fps is not None:
        row.fps = round(row.fps, 2)
        row.vs_engine = round(row.fps / engine_fps, 3) if engine_fps else None
        row.gmacs = round(macs * row.fps / 1e9, 2) if macs else None
    return row


def app_rows(bundle: Bundle, split, specs: list[Spec], rows: list[Row], macs: int | None,
             seconds: float) -> list[AppRow]:
    fps_of = {row.key: row.fps for row in rows}
    out = []
    with tempfile.TemporaryDirectory(prefix="segcam-benchmark-") as tmp:
        work = Path(tmp)
        clip = work / "clip.mp4"
        count, _ = write_clip(split, clip)
        log.info("clip: %d images of %s %s at %d fps -> %s", count, split.root, split.name,
                 CLIP_FPS, clip.name)
        for i, spec in enumerate(s for s in specs if s.runs_in_app and s.key in fps_of):
            folder = work / f"run{i}"
            bundle_dir = one_format_bundle(bundle, spec.fmt, folder / "bundle")
            frames = max(60, math.ceil(seconds * fps_of[spec.key]))
            log.info("app: %s, %d frames", spec.key, frames)
            result = run_app(spec, bundle_dir, clip, folder, frames,
                             timeout=120 + 20 * frames / max(fps_of[spec.key], 0.1))
            out.append(app_row(spec, result, fps_of[spec.key], macs))
    return out


# --- output -----------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.2f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


ENGINE_COLUMNS = ("format", "backend", "device", "precision", "MB", "p50 ms", "p95 ms",
                  "frames/s", "GMAC/s", "mIoU", "global acc", "= reference")
APP_COLUMNS = ("app (clip, headless, recording)", "device", "precision", "frames/s",
               "vs engine", "GMAC/s", "window s", "infer p50 ms", "note")


def table_cells(report: Report) -> tuple[list[list[str]], list[list[str]]]:
    engines = [[r.format, r.backend, r.device, r.precision, _mb(r.file_bytes),
                _num(r.p50_ms), _num(r.p95_ms), _num(r.fps, 2), _num(r.gmacs, 2),
                _pct(r.miou), _pct(r.global_accuracy), _num(r.agreement, 4)]
               for r in report.rows]
    apps = [[r.key, r.device, r.precision, _num(r.fps, 2), _num(r.vs_engine, 2),
             _num(r.gmacs, 2), _num(r.window_s), _num(r.infer_p50_ms), r.note]
            for r in report.app_rows]
    return engines, apps


def terminal_table(header: tuple[str, ...], cells: list[list[str]]) -> str:
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def markdown_table(header: tuple[str, ...], cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def summary(report: Report) -> str:
    b, s, m = report.bundle, report.split, report.machine
    macs = (f"{report.macs_per_frame / 1e9:.3f} GMAC per frame ({report.macs_from})"
            if report.macs_per_frame else f"MACs not counted: {report.macs_from}")
    return (f"{b['name']} ({b['input']}, {b['classes']} classes) on {s['split']} of {s['data']} "
            f"({s['samples']} images); {m['cpu']}, {m['cores']} cores, load average "
            f"{m['load_start']:.1f} -> {m['load_end']:.1f}; reference: "
            f"{report.reference or 'none'}; {macs}")


def render_terminal(report: Report) -> str:
    engines, apps = table_cells(report)
    parts = [summary(report), "", terminal_table(ENGINE_COLUMNS, engines)]
    if apps:
        parts += ["", terminal_table(APP_COLUMNS, apps)]
    parts += [f"skipped {s['row']}: {s['reason']}" for s in report.skipped]
    return "\n".join(parts)


def render_markdown(report: Report) -> str:
    engines, apps = table_cells(report)
    parts = [summary(report), "", markdown_table(ENGINE_COLUMNS, engines)]
    if apps:
        parts += ["", markdown_table(APP_COLUMNS, apps)]
    if report.skipped:
        parts += [""] + [f"- skipped {s['row']}: {s['reason']}" for s in report.skipped]
    return "\n".join(parts) + "\n"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "platform": platform.platform(),
            "python": platform.python_version(), "load_start": os.getloadavg()[0]}


# --- the command ------------------------------------------------------------------------------


def run_benchmark(args) -> int:
    from training.config import ConfigError

    if args.frames < 0 or args.warmup < 0:
        raise ConfigError("--frames and --warmup: must be 0 or more")
    for flag, value in (("--json", args.json), ("--markdown", args.markdown)):
        if value:
            _check_writable(flag, Path(value))
    bundle = load_bundle(args.bundle)
    from training.scoring import open_split

    split = open_split(args.data, args.split, config=args.config, bundle=bundle)
    if len(split) == 0:
        raise EngineError(f"--split {args.split}: no images in {split.root}")
    cores = len(os.sched_getaffinity(0))
    specs, skipped = plan_rows(bundle, cores)
    engines: dict[str, Engine] = {}
    by_key: dict[str, Spec] = {}
    for spec in specs:
        try:
            engines[spec.key] = open_row(bundle, spec)
            by_key[spec.key] = spec
        except EngineError as error:
            skipped.append({"row": spec.key, "reason": str(error)})
            log.info("skipped %s: %s", spec.key, error)
    if not engines:
        raise EngineError(f"{bundle.manifest_path}: no engine can run this bundle here")
    reference = next(iter(engines))  # keras when it opened (planned first), else the first file
    macs, macs_from = count_macs(bundle)
    report = Report(
        bundle={"name": bundle.name, "path": str(bundle.root),
                "input": f"{bundle.input.height}x{bundle.input.width}",
                "classes": len(bundle.classes)},
        split=split.describe(), machine=machine(), reference=reference,
        macs_per_frame=macs, macs_from=macs_from, skipped=skipped)
    log.info("%d engines on %d images of %s %s (%d timed frames each)", len(engines),
             len(split), split.root, split.name, max(args.frames, len(split)))
    measured = measure(bundle, split, engines, reference, args.frames, args.warmup)
    report.rows = engine_rows(bundle, by_key, engines, measured, macs)
    for engine in engines.values():
        engine.close()
    if args.app_seconds > 0:
        report.app_rows = app_rows(bundle, split, specs, report.rows, macs, args.app_seconds)
    report.machine["load_end"] = os.getloadavg()[0]
    print(render_terminal(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=2))
        log.info("wrote %s", args.json)
    if args.markdown:
        Path(args.markdown).write_text(render_markdown(report))
        log.info("wrote %s", args.markdown)
    return 0


def _check_writable(flag: str, path: Path) -> None:
    """A report that cannot be written fails now, not after minutes of measuring."""
    from training.config import ConfigError

    if path.is_dir():
        raise ConfigError(f"{flag}: {path} is a folder")
    existed = path.exists()
    try:
        with path.open("a"):
            pass
    except OSError as error:
        raise ConfigError(f"{flag}: cannot write {path} ({error.strerror or error})") from None
    if not existed:
        path.unlink()


def add_parser(commands) -> None:
    bench = commands.add_parser("benchmark", help="speed and accuracy of every file and backend")
    bench.add_argument("--bundle", required=True, help="model bundle folder")
    bench.add_argument("--data", help="data set root (default: the config's)")
    bench.add_argument("--config", help="data config YAML (default: the bundle's data set)")
    bench.add_argument("--split", default="val")
    bench.add_argument("--frames", type=int, default=0,
                       help="timed frames per engine; the split is always scored whole, and "
                            "cycled for more (default: the split's size)")
    bench.add_argument("--warmup", type=int, default=3, help="untimed calls per engine first")
    bench.add_argument("--app-seconds", type=float, default=10.0,
                       help="about how long each end-to-end app run lasts (0: no app rows)")
    bench.add_argument("--json", help="write the report here as JSON")
    bench.add_argument("--markdown", help="write the tables here as Markdown")
