"""Every available engine on the same bundle and the same frames, fp32 Keras as the baseline.

    .venv/bin/python bench/engines.py [--bundle DIR] [--frames N] [--threads T] [--decoder F,...]

Without --bundle, a representative model is built and converted first: a randomly initialised
mobilenetv2 Unet (default decoder 256,128,64,32,16 unless --decoder; CamVid's 11 classes +
background) at 384x480, in a temp dir. Keras runs with TensorFlow's own thread pool (all cores);
LiteRT with --threads and with 1 thread; ONNX Runtime with TensorRT > CUDA > CPU, whichever exists.
Frames go round-robin through the engines (frame i to every engine, then frame i+1), so a busy
machine slows all of them alike and the ratios stay fair. Latency is per single-frame infer()
call, including the pre-processing and argmax baked into each graph.
Goals: fp16 LiteRT >= 1.8x the fp32 Keras throughput; fp16 files <= 0.55x the fp32 weights.
A bundle's int8 files get rows of their own. `python -m training benchmark` measures all of this
on a labelled split instead (mIoU per row, the app end to end).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.bundle import FORMAT_PRECISION, Bundle, load_bundle  # noqa: E402
from models.engines import Engine, EngineError, open_engine  # noqa: E402
from models.palette import CAMVID_CLASSES  # noqa: E402
from models.parity import agreement, synthetic_frames  # noqa: E402

LITERT_GOAL = 1.8
SIZE_GOAL = 0.55


def build_representative(folder: Path, decoder: tuple[int, ...],
                         formats: tuple[str, ...] | None = None,
                         input_size: tuple[int, int] = (384, 480)) -> Bundle:
    """A randomly initialised CamVid Unet with this decoder and input, converted into `folder`."""
    from training.convert import ConvertOptions, convert
    from training.convert_plan import DEFAULT_FORMATS
    from training.scratch import make_scratch_checkpoint

    weights, config = make_scratch_checkpoint(folder / "run", list(CAMVID_CLASSES[:11]),
                                              decoder_filters=decoder, input_size=input_size)
    # random weights: parity is reported, not enforced
    return convert(ConvertOptions(checkpoint=str(weights), out=str(folder / "bench-unet"),
                                  formats=formats or DEFAULT_FORMATS, min_parity=0.0))


def open_all(bundle: Bundle, threads: int) -> dict[str, Engine]:
    """keras first (the baseline), then every fp16 backend this machine can run."""
    engines: dict[str, Engine] = {}
    onnx = {"providers": ["tensorrt", "cuda", "cpu"]}
    wanted = [("keras", {"threads": None}),  # TensorFlow's default: all cores
              ("litert", {"fmt": "tflite"}), ("litert-1thread", {"threads": 1, "fmt": "tflite"}),
              ("onnx", {**onnx, "fmt": "onnx"})]
    if "tflite-int8" in bundle.files:  # int8 files too (python -m training benchmark has more)
        wanted += [("litert-int8", {"fmt": "tflite-int8"}),
                   ("litert-int8-1thread", {"threads": 1, "fmt": "tflite-int8"})]
    if "onnx-int8" in bundle.files:
        wanted.append(("onnx-int8", {**onnx, "fmt": "onnx-int8"}))
    for label, extra in wanted:
        backend = label.split("-")[0]
        options = {"threads": threads, **extra}
        try:
            if backend == "keras":  # the fp32 reference lives with training (it needs TF)
                from training.keras_engine import KerasEngine

                engines[label] = KerasEngine(bundle, threads=options["threads"])
            else:
                engines[label] = open_engine(bundle, backend=backend, **options)
        except EngineError as error:
            print(f"  {label}: skipped ({error})")
    if "keras" not in engines:
        raise SystemExit("the keras baseline could not be opened; nothing to compare with")
    return engines


def measure(engines: dict[str, Engine], frames: np.ndarray, warmup: int) -> dict[str, list[float]]:
    for engine in engines.values():
        for i in range(warmup):
            engine.infer(frames[i % len(frames)][None])
    seconds: dict[str, list[float]] = {label: [] for label in engines}
    for i in range(len(frames)):
        frame = frames[i][None]
        for label, engine in engines.items():
            started = time.perf_counter()
            engine.infer(frame)
            seconds[label].append(time.perf_counter() - started)
    return seconds


def report(bundle: Bundle, engines: dict[str, Engine], seconds: dict[str, list[float]],
           frames: np.ndarray) -> None:
    reference = engines["keras"].infer(frames[:4])
    base_fps = len(seconds["keras"]) / sum(seconds["keras"])
    h, w = bundle.input_size
    decoder = bundle.provenance.get("decoder_filters")
    print(f"\n{bundle.name}: {h}x{w}, {len(bundle.classes)} classes, decoder {decoder}, "
          f"{len(frames)} frames, {os.cpu_count()} CPU cores, load average "
          f"{os.getloadavg()[0]:.1f} at the end")
    print(f"{'engine':<16}{'median ms':>10}{'p95 ms':>9}{'frames/s':>10}{'vs keras':>10}"
          f"{'labels = keras':>16}")
    for label, times in seconds.items():
        ms = np.array(times) * 1000
        fps = len(times) / sum(times)
        same = agreement(engines[label].infer(frames[:4]), reference)
        print(f"{label:<16}{statistics.median(ms):>10.1f}{np.percentile(ms, 95):>9.1f}"
              f"{fps:>10.2f}{fps / base_fps:>9.2f}x{same:>16.4f}")
    fp32 = bundle.provenance.get("fp32_bytes")
    ckpt = bundle.provenance.get("checkpoint_bytes")
    print(f"\nfp32 Keras weights: {fp32 / 1e6:.2f} MB (params x 4)" if fp32 else "")
    if ckpt:
        print(f"fp32 checkpoint file: {ckpt / 1e6:.2f} MB")
    for entry in bundle.files.values():
        ratio = f"{entry.bytes / fp32:.3f}x fp32 weights" if fp32 else ""
        print(f"{entry.path}: {entry.bytes / 1e6:.2f} MB  {ratio}")
    if bundle.parity:
        print("parity (converter): " + ", ".join(f"{k} {v:.4f}" for k, v in bundle.parity.items()))
    if "litert" in seconds:
        ratio = (len(seconds["litert"]) / sum(seconds["litert"])) / base_fps
        verdict = "met" if ratio >= LITERT_GOAL else "MISSED"
        print(f"goal fp16 LiteRT >= {LITERT_GOAL}x Keras fp32 throughput: {ratio:.2f}x ({verdict})")
    if fp32:
        worst = max((entry.bytes for fmt, entry in bundle.files.items()
                     if FORMAT_PRECISION[fmt] == "fp16"), default=0) / fp32
        verdict = "met" if worst <= SIZE_GOAL else "MISSED"
        print(f"goal fp16 files <= {SIZE_GOAL}x fp32 weights: largest {worst:.3f}x ({verdict})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", help="bundle folder (default: build a representative one)")
    parser.add_argument("--frames", type=int, default=40, help="timed frames per engine")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="threads for the LiteRT and ONNX engines (default: all cores)")
    parser.add_argument("--decoder", default="256,128,64,32,16",
                        help="decoder filters of the built model (configs/camvid.yaml has "
                             "128,64,32,16,16)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        if args.bundle:
            bundle = load_bundle(args.bundle)
        else:
            decoder = tuple(int(f) for f in args.decoder.split(","))
            print(f"building and converting a representative model (mobilenetv2 Unet, decoder "
                  f"{decoder}, 384x480, random weights)")
            bundle = build_representative(Path(tmp), decoder)
        h, w = bundle.input_size
        frames = synthetic_frames(max(args.frames, 4), h, w, seed=1)
        engines = open_all(bundle, args.threads)
        seconds = measure(engines, frames, args.warmup)
        report(bundle, engines, seconds, frames)
        for engine in engines.values():
            engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
