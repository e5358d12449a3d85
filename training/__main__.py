"""`python -m training train|evaluate|convert|benchmark|config ...` (or `segcam VERB ...`): the
training side's command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from importlib.util import find_spec
from pathlib import Path

from models.bundle import BundleError
from models.engines import EngineError
from models.parity import SamplesError
from training.checkpoint import CheckpointError
from training.config import ConfigError, load_config
from training.datasets.common import DatasetError
from training.quantize import CalibrationError

# The name usage lines and errors give this command: `segcam` and `python -m models convert` run
# it too (the latter in a new process, so it says its name through the environment).
PROG_ENV = "SEGCAM_CLI_PROG"
DEFAULT_PROG = "python -m training"
NEEDS_TENSORFLOW = ("{prog} {verb}: needs TensorFlow (pip install -r requirements-train.txt); "
                    "this machine has the runtime only")


def _parser(prog: str = DEFAULT_PROG) -> argparse.ArgumentParser:
    from models.version import version

    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--version", action="version", version=f"segcam {version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a Unet from a config")
    train.add_argument("--config", required=True, help="training YAML, e.g. configs/camvid.yaml")
    train.add_argument("--epochs", type=int, help="override train.epochs")
    train.add_argument("--limit", type=int, help="use only the first N train and val samples")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--out", help="run folder (default runs/<name>)")
    train.add_argument("--data", help="override data.root")
    train.add_argument("--distribute", choices=("none", "mirrored", "multi_worker"),
                       help="override train.distribute (multi_worker: the cluster from TF_CONFIG)")

    evaluate = commands.add_parser("evaluate", help="per-class IoU, mIoU and accuracies")
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="weights (with --config) or a full saved model")
    source.add_argument("--bundle", help="a model bundle folder (runs its fp16 model)")
    evaluate.add_argument("--config", help="training YAML (default: config.yaml beside it)")
    evaluate.add_argument("--backend", default="litert", help="bundle engine (litert|onnx|keras)")
    evaluate.add_argument("--data", help="data set root (default: the config's)")
    evaluate.add_argument("--split", default="val")
    evaluate.add_argument("--limit", type=int, help="only the first N samples")
    evaluate.add_argument("--json", help="write the scores here as JSON")
    evaluate.add_argument("--grid", help="predictions PNG (default predictions.png beside JSON)")
    _convert_parser(commands)

    config = commands.add_parser("config", help="the training config reference, or check a file")
    config.add_argument("--explain", action="store_true",
                        help="print every key with its type, default and meaning")
    config.add_argument("file", nargs="?", help="a training YAML to check (splits, sizes and "
                                                "values included)")
    from training.benchmark import add_parser

    add_parser(commands)
    return parser


def _convert_parser(commands) -> None:
    convert = commands.add_parser("convert", help="Keras checkpoint -> fp16/int8 model bundle")
    convert.add_argument("--checkpoint", required=True,
                         help="full model (.keras, .h5, SavedModel) or weights (.weights.h5)")
    convert.add_argument("--config", help="training config YAML (default: config.yaml beside "
                                          "the checkpoint; needed for weights-only checkpoints)")
    convert.add_argument("--out", required=True, help="bundle folder, e.g. models/camvid")
    convert.add_argument("--formats", default="tflite,onnx",
                         help="tflite,onnx[,tflite-int8,onnx-int8,tftrt]")
    convert.add_argument("--input-size", help="HxW, rounded up to multiples of 32 "
                                              "(default: data.input_size or 384x480)")
    convert.add_argument("--output", default="labels", choices=("labels", "probabilities"))
    convert.add_argument("--min-parity", type=float, default=0.995,
                         help="least fraction of pixels equal to fp32 Keras, per format")
    convert.add_argument("--samples", help="folder or glob of images for the parity check "
                                           "(default: synthetic frames)")
    convert.add_argument("--name", help="bundle name (default: the --out folder's name)")
    convert.add_argument("--metrics", help="scores JSON from `python -m training evaluate --json`")
    int8 = convert.add_argument_group("int8 formats")
    int8.add_argument("--calibration", metavar="GLOB",
                      help="folder or glob of training images to calibrate the int8 ranges on")
    int8.add_argument("--calibration-count", type=int, default=200,
                      help="images drawn (seeded) from --calibration (default: %(default)s)")
    int8.add_argument("--calibration-seed", type=int, default=0)
    int8.add_argument("--eval-data", metavar="ROOT",
                      help="data set root: score fp32 and every file on --eval-split")
    int8.add_argument("--eval-split", default="val")
    int8.add_argument("--eval-config", help="data config of --eval-data (default: the "
                                            "checkpoint's training config)")
    int8.add_argument("--max-miou-drop", type=float, default=1.0,
                      help="most mIoU points an int8 file may lose against fp32 (default: "
                           "%(default)s)")
    int8.add_argument("--allow-miou-drop", action="store_true",
                      help="keep int8 files that lose more (or that were not scored)")


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    prog = prog or os.environ.get(PROG_ENV) or DEFAULT_PROG
    if argv is None:  # the command line (not a call from Python): switch allocator first
        from training.allocator import reexec_with_tcmalloc

        argv = sys.argv[1:]
        reexec_with_tcmalloc(argv, prog)
    args = _parser(prog).parse_args(argv)
    if _needs_tensorflow(args) and find_spec("tensorflow") is None:
        print(NEEDS_TENSORFLOW.format(prog=prog, verb=args.command), file=sys.stderr)
        return 2
    named = args.command == "convert"  # the converter's log lines have always named their module
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s "
                        + ("%(name)s: %(message)s" if named else "%(message)s"))
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "convert":
            return _convert(args)
        if args.command == "config":
            return _config(args)
        if args.command == "benchmark":
            from training.benchmark import run_benchmark

            return run_benchmark(args)
        from training.evaluate_cli import run_evaluate

        return run_evaluate(args)
    except (ConfigError, DatasetError, BundleError, EngineError, CheckpointError,
            SamplesError, CalibrationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # errors a user can fix carry a one-line message
        from training.convert import ConvertError, ParityError
        from training.model import ModelError

        if isinstance(error, (ModelError, ConvertError)):
            print(f"error: {error}", file=sys.stderr)
            return 2
        if isinstance(error, ParityError):
            print(f"error: {error}", file=sys.stderr)
            return 1
        if args.command == "train":
            from training.train import WorkerLost

            if isinstance(error, WorkerLost):
                print(f"error: {error}", file=sys.stderr)
                _exit_now(1)
        raise


def _needs_tensorflow(args: argparse.Namespace) -> bool:
    """Training, conversion and the Keras reference need it; a bundle's evaluation, the
    benchmark (its Keras row skipped) and the config check run on the runtime alone."""
    if args.command in ("train", "convert"):
        return True
    return args.command == "evaluate" and bool(args.checkpoint or args.backend == "keras")


def _exit_now(code: int) -> None:
    """End the process without TensorFlow's teardown: after a worker is lost it waits for that
    worker (about 90 s measured), and the state is saved already."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _convert(args) -> int:
    from training.convert import ConvertOptions, convert

    convert(ConvertOptions(
        checkpoint=args.checkpoint, out=args.out, config=args.config, formats=args.formats,
        input_size=args.input_size, output=args.output, min_parity=args.min_parity,
        samples=args.samples, name=args.name, metrics=args.metrics,
        calibration=args.calibration, calibration_count=args.calibration_count,
        calibration_seed=args.calibration_seed, eval_data=args.eval_data,
        eval_split=args.eval_split, eval_config=args.eval_config,
        max_miou_drop=args.max_miou_drop, allow_miou_drop=args.allow_miou_drop,
    ))
    return 0


def _config(args) -> int:
    if args.explain or not args.file:
        from training.reference import explain

        print(explain(), end="")
        return 0
    from training.checks import preflight

    preflight(load_config(args.file))
    print(f"{args.file}: ok")
    return 0


def _train(args) -> int:
    overrides = {}
    if args.epochs:
        overrides["train.epochs"] = args.epochs
    if args.data:
        overrides["data.root"] = str(Path(args.data).resolve())
    if args.distribute:
        overrides["train.distribute"] = args.distribute
    config_path = Path(args.config)
    out = Path(args.out) if args.out else None
    if args.resume and out is not None and (out / "config.yaml").is_file():
        config_path = out / "config.yaml"  # a resumed run keeps the settings it started with
    config = load_config(config_path, overrides)
    from training.allocator import active_allocator

    logging.getLogger("training").info("memory allocator: %s", active_allocator())
    cluster = None
    if config.train.distribute != "none":  # tf.distribute logs each traced all-reduce, and
        # the traceback of every aborted collective, at INFO: its warnings and errors remain
        logging.getLogger("tensorflow").setLevel(logging.WARNING)
    if config.train.distribute == "multi_worker":
        from training.cluster import read_cluster

        cluster = read_cluster()  # a wrong TF_CONFIG is one line before TensorFlow loads
    from training.checks import preflight

    datasets = preflight(config, args.limit)  # data mistakes surface before TensorFlow loads
    from training.train import train

    return train(config, out or Path("runs") / config.name, resume=args.resume,
                 limit=args.limit, datasets=datasets, cluster=cluster)


if __name__ == "__main__":
    sys.exit(main())
