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

The engine rows are training/benchmark_rows.py, the app rows training/benchmark_app.py, the
tables and JSON training/benchmark_report.py; this module is the command.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from models.bundle import load_bundle
from models.engines import Engine, EngineError
from training.benchmark_app import app_rows
from training.benchmark_report import Report, machine, render_markdown, render_terminal
from training.benchmark_rows import Spec, count_macs, engine_rows, measure, open_row, plan_rows

log = logging.getLogger("training.benchmark")


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
