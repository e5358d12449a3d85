"""The end-to-end rows of `python -m training benchmark`: `python -m app` itself (a subprocess:
training never imports the app) on a clip written from the split's images, headless with
recording, its steady output rate read from --stats-json while capture was still running."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import yaml

from models.bundle import FORMAT_PRECISION, Bundle, write_bundle
from models.engines import EngineError
from training.benchmark_rows import Row, Spec, device_of

log = logging.getLogger("training.benchmark")

ROOT = Path(__file__).resolve().parents[1]  # the checkout: `python -m app` runs from here
CLIP_FPS = 15  # the demo clip's rate (media/README.md); the app runs clips unpaced anyway
STATS_PERIOD_S = 0.5


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
