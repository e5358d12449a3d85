"""`python -m models convert ...` and `python -m models check BUNDLE`."""

from __future__ import annotations

import argparse
import logging
import sys

from models.bundle import BundleError, load_bundle
from models.parity import SamplesError
from models.source import SourceError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help="Keras checkpoint -> fp16 model bundle")
    convert.add_argument("--checkpoint", required=True,
                         help="full model (.keras, .h5, SavedModel) or weights (.weights.h5)")
    convert.add_argument("--config", help="training config YAML (default: config.yaml beside "
                                          "the checkpoint; needed for weights-only checkpoints)")
    convert.add_argument("--out", required=True, help="bundle folder, e.g. models/camvid")
    convert.add_argument("--formats", default="tflite,onnx", help="tflite,onnx[,tftrt]")
    convert.add_argument("--input-size", help="HxW, rounded up to multiples of 32 "
                                              "(default: data.input_size or 384x480)")
    convert.add_argument("--output", default="labels", choices=("labels", "probabilities"))
    convert.add_argument("--min-parity", type=float, default=0.995,
                         help="least fraction of pixels equal to fp32 Keras, per format")
    convert.add_argument("--samples", help="folder or glob of images for the parity check "
                                           "(default: synthetic frames)")
    convert.add_argument("--name", help="bundle name (default: the --out folder's name)")
    convert.add_argument("--metrics", help="scores JSON from `python -m training evaluate --json`")
    check = commands.add_parser("check", help="verify a bundle's files and print a summary")
    check.add_argument("bundle")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from app.engines.base import EngineError
    from models.convert import ConvertError, ConvertOptions, ParityError, convert, dumps_summary

    try:
        if args.command == "check":
            print(dumps_summary(load_bundle(args.bundle)))
            return 0
        convert(ConvertOptions(
            checkpoint=args.checkpoint, out=args.out, config=args.config, formats=args.formats,
            input_size=args.input_size, output=args.output, min_parity=args.min_parity,
            samples=args.samples, name=args.name, metrics=args.metrics,
        ))
    except (ConvertError, SourceError, SamplesError, BundleError, EngineError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ParityError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
