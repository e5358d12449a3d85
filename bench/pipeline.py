"""Bare engine throughput against the whole app on the same bundle and clip, in one run.

    python bench/pipeline.py [--bundle models/camvid-unet] [--clip media/camvid-val.mp4] [--rounds 3]

(a) the app headless without recording, (b) the app headless with recording, each as a ratio of
the bare engine's frames per second. The app runs in this process with its real threads, real
file source, real renderer and real GStreamer recorder; rounds alternate to share the noise.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import load_app_config  # noqa: E402
from app.pipeline import Pipeline, RunOptions  # noqa: E402
from app.segmenter import Segmenter  # noqa: E402
from app.sources import open_source  # noqa: E402
from models.bundle import load_bundle  # noqa: E402
from models.engines import open_engine  # noqa: E402


def read_clip(path: Path) -> list[np.ndarray]:
    """Every frame of the clip, read by the app's own file source."""
    frames = []
    with open_source(str(path)) as source:
        while (frame := source.read()) is not None:
            frames.append(frame)
    return frames


def bare_engine_fps(engine, frames: list[np.ndarray], count: int) -> float:
    """engine.infer alone on frames already letterboxed to the input size."""
    segmenter = Segmenter(engine)
    inputs = [segmenter.letterbox(frame)[0].copy() for frame in frames]
    engine.infer(inputs[0][None])
    started = time.perf_counter()
    for i in range(count):
        engine.infer(inputs[i % len(inputs)][None])
    return count / (time.perf_counter() - started)


def app_fps(engine, clip: Path, record_dir: Path | None, frames: int) -> tuple[float, dict]:
    """Steady-state output rate: first to last output frame (start-up and the final segment
    close are one-off costs, not throughput)."""
    overrides = {"source.uri": str(clip), "source.loop": True, "telemetry.enabled": False,
                 "record.enabled": record_dir is not None, "pipeline.stats_interval_s": 3600}
    if record_dir is not None:
        overrides["record.dir"] = str(record_dir)
    config = load_app_config(None, overrides)
    pipeline = Pipeline(config, engine, RunOptions(headless=True, max_frames=frames))
    assert pipeline.run() == 0
    stats = pipeline.stats.snapshot(pipeline.drops())
    elapsed = pipeline.stats.last_output - pipeline.stats.first_output
    return (stats["frames"]["output"] - 1) / elapsed, stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", default=str(ROOT / "models/camvid-unet"))
    parser.add_argument("--clip", default=str(ROOT / "media/camvid-val.mp4"))
    parser.add_argument("--backend", default="litert")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=300, help="frames per run (clip looped)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    bundle = load_bundle(args.bundle)
    engine = open_engine(bundle, backend=args.backend)
    frames = read_clip(Path(args.clip))
    print(f"bundle {bundle.name} ({engine.name}, input {engine.input_size[1]}x"
          f"{engine.input_size[0]}), clip {Path(args.clip).name}: {len(frames)} frames "
          f"{frames[0].shape[1]}x{frames[0].shape[0]}, looped to {args.frames} per run, "
          f"{args.rounds} alternating rounds")
    bare, headless, recording = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            bare.append(bare_engine_fps(engine, frames, args.frames))
            fps, stats = app_fps(engine, Path(args.clip), None, args.frames)
            headless.append(fps)
            assert stats["frames"]["output"] == args.frames, stats["frames"]
            fps, stats = app_fps(engine, Path(args.clip), Path(tmp) / f"rec{round_}", args.frames)
            recording.append(fps)
            assert stats["drops"]["record"] == 0, stats["drops"]
            print(f"round {round_ + 1}: engine {bare[-1]:.2f} fps, app {headless[-1]:.2f} fps, "
                  f"app+record {recording[-1]:.2f} fps")
        segments = sorted(Path(tmp).rglob("*.mkv"))
        print(f"recorded {len(segments)} segment(s), "
              f"{sum(s.stat().st_size for s in segments) / 1e6:.1f} MB")
    engine.close()
    b, h, r = (statistics.median(v) for v in (bare, headless, recording))
    print(f"median: engine {b:.2f} fps | (a) app headless {h:.2f} fps = {h / b:.3f}x | "
          f"(b) app + recording {r:.2f} fps = {r / b:.3f}x")
    print(f"goal (a) >= 0.95: {'met' if h / b >= 0.95 else 'MISSED'}; "
          f"goal (b) >= 0.90: {'met' if r / b >= 0.90 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
