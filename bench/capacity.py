"""How big a Unet the app can run at the speed it must: decoder widths side by side, in one run.

    python bench/capacity.py [--decoders 32-16-16-8-8,64-32-16-16-8,...] [--sizes 384x480,...]
                             [--frames 150] [--rounds 2] [--goal 15] [--clip media/camvid-val.mp4]

Each decoder and input size gets a randomly initialised mobilenetv2 Unet (CamVid's 11 classes +
background; speed does not depend on the weights) converted to an fp16 LiteRT bundle. Then, round
after round so the machine's noise hits every model alike, the bare engine and the app itself
(real file source, renderer and GStreamer recorder, as a device runs it) on the same clip. The
table gives parameters, multiply-accumulates per frame, engine and app frames per second, and
whether the app reaches the goal. Bundles are built in a temp folder and removed.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.engines import open_engine  # noqa: E402

DEFAULT_DECODERS = "32-16-16-8-8,64-32-16-16-8,128-64-32-16-16,256-128-64-32-16"


def _sibling(name: str):
    """bench/ is a folder of scripts, not a package: load a sibling by path."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(
        f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_decoders(text: str) -> list[tuple[int, ...]]:
    try:
        decoders = [tuple(int(f) for f in spec.split("-")) for spec in text.split(",")]
    except ValueError:
        raise SystemExit(f"--decoders: {text!r}: expected e.g. 32-16-16-8-8,64-32-16-16-8") from None
    if any(len(d) != 5 or min(d) < 1 for d in decoders):
        raise SystemExit(f"--decoders: {text!r}: each needs 5 positive widths, e.g. 32-16-16-8-8")
    return decoders


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'384x480,288x384' -> [(384, 480), (288, 384)]: each rounded up as the converter does."""
    from training.checkpoint import CheckpointError, parse_input_size

    try:
        return [parse_input_size(spec, "--sizes") for spec in text.split(",")]
    except CheckpointError as error:
        raise SystemExit(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decoders", default=DEFAULT_DECODERS)
    parser.add_argument("--sizes", default="384x480", help="model input sizes, HxW")
    parser.add_argument("--clip", default=str(ROOT / "media/camvid-val.mp4"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--frames", type=int, default=150, help="app frames per run (looped)")
    parser.add_argument("--goal", type=float, default=15.0, help="app frames per second")
    args = parser.parse_args(argv)
    variants = [(d, s) for d in parse_decoders(args.decoders) for s in parse_sizes(args.sizes)]
    logging.basicConfig(level=logging.WARNING)
    pipeline, engines = _sibling("pipeline"), _sibling("engines")
    from training.benchmark_rows import count_macs

    clip = Path(args.clip)
    frames = pipeline.read_clip(clip)
    with tempfile.TemporaryDirectory() as tmp:
        models = []
        for decoder, size in variants:
            name = "-".join(map(str, decoder)) + f" @ {size[0]}x{size[1]}"
            print(f"building decoder {name} ...", flush=True)
            bundle = engines.build_representative(Path(tmp) / name.replace(" @ ", "_"), decoder,
                                                  formats=("tflite",), input_size=size)
            macs, _ = count_macs(bundle)
            models.append((name, bundle, open_engine(bundle, backend="litert"), macs))
        engine_fps: dict[int, list[float]] = {i: [] for i in range(len(models))}
        app_fps: dict[int, list[float]] = {i: [] for i in range(len(models))}
        for round_ in range(args.rounds):
            for i, (name, _, engine, _) in enumerate(models):
                engine_fps[i].append(pipeline.bare_engine_fps(engine, frames, args.frames // 2))
                fps, stats = pipeline.app_fps(engine, clip, Path(tmp) / f"rec-{round_}-{i}",
                                              args.frames)
                app_fps[i].append(fps)
                print(f"round {round_ + 1}, decoder {name}: engine {engine_fps[i][-1]:.1f} fps, "
                      f"app + recording {fps:.1f} fps ({stats['drops']['record']} recorder "
                      "drops)", flush=True)
        print(f"\nclip {clip.name}, {args.frames} app frames per run, {args.rounds} rounds, "
              "fp16 LiteRT (all threads), app headless with recording; medians")
        print("| decoder @ input | params | GMAC/frame | engine fps | app fps | app >= "
              f"{args.goal:g} fps |")
        print("|---|---|---|---|---|---|")
        for i, (name, bundle, engine, macs) in enumerate(models):
            e, a = statistics.median(engine_fps[i]), statistics.median(app_fps[i])
            params = bundle.provenance.get("fp32_params")
            gmac = f"{macs / 1e9:.2f}" if macs else "?"
            print(f"| {name} | {params / 1e6:.2f} M | {gmac} | {e:.1f} | "
                  f"{a:.1f} | {'yes' if a >= args.goal else 'no'} |")
            engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
