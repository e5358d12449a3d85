"""`segcam predict SOURCE ...` (or `python -m app predict`): segment files as fast as the
machine goes and write, per picture, NAME_overlay.jpg and NAME_mask.png into --out.

A clip gives one pair per frame (NAME_000001_mask.png, ...), not a mask video: a video codec
would blur the class ids, and every frame stays a file any tool can read. Exit 0 when every
input was read, 1 when some could not be (one line each; the rest are written), 2 for a
mistake in the command (a SOURCE naming nothing, a bad --out, --bundle or --backend).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from app.predict.inputs import InputError, Item, Unreadable, expand, frame_count, pictures
from app.predict.progress import Progress
from app.predict.writers import WriteError, Writer
from models.bundle import BundleError
from models.engines import BACKENDS, EngineError
from models.segmenter import Segmenter
from models.shipped import SHIPPED_BUNDLE
from models.version import version

DEFAULT_OUT = "runs/predict"


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="an image, a folder (its images and clips), a glob ('photos/*.jpg',"
                             " quoted) or a clip (.mp4, .mkv, ...)")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="folder for the results, made if missing (default: %(default)s in "
                             "the current folder)")
    parser.add_argument("--bundle", default=str(SHIPPED_BUNDLE),
                        help="model bundle folder (default: the shipped %(default)s)")
    parser.add_argument("--backend", default="auto", choices=BACKENDS,
                        help="auto: as the app picks it (TensorRT, ONNX Runtime on the GPU, "
                             "LiteRT, ONNX Runtime on the CPU)")
    parser.add_argument("--threads", type=int, help="CPU threads for LiteRT/ONNX (default: all)")
    parser.add_argument("--areas", choices=("csv", "json"),
                        help="also write areas.csv or areas.json: each class's pixels and "
                             "fraction, per picture")
    parser.add_argument("--alpha", type=float, default=0.5,
                        help="weight of the class colours in the overlay, 0..1 (default: "
                             "%(default)s)")
    parser.add_argument("--max-frames", type=int, metavar="N",
                        help="only the first N frames of each clip")
    return parser


class UsageError(ValueError):
    """A flag with a value that cannot work; one line naming the flag."""


def main(argv: list[str] | None = None, prog: str = "python -m app predict") -> int:
    args = _parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        _check_flags(args)
        items = expand(args.sources)
        out = _out_folder(Path(args.out))
        segmenter = _open(args)
    except (UsageError, InputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return _predict(args, items, out, segmenter)
    except WriteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        segmenter.close()


def _check_flags(args: argparse.Namespace) -> None:
    if not 0.0 <= args.alpha <= 1.0:
        raise UsageError(f"--alpha: {args.alpha} is not within 0..1")
    for flag, value in (("--max-frames", args.max_frames), ("--threads", args.threads)):
        if value is not None and value <= 0:
            raise UsageError(f"{flag}: must be a positive number")


def _out_folder(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--out: {out}: {error.strerror or error}") from None
    probe = out / ".segcam-write-probe"
    try:  # a read-only folder fails here, not after the first picture was segmented
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise UsageError(f"--out: {out}: cannot write there ({error.strerror or error})") from None
    return out


def _open(args: argparse.Namespace) -> Segmenter:
    try:
        return Segmenter.load(Path(args.bundle).expanduser(), backend=args.backend,
                              threads=args.threads)
    except BundleError as error:
        raise UsageError(f"--bundle: {error}") from None
    except EngineError as error:
        raise UsageError(f"--backend {args.backend}: {error}") from None


def _predict(args: argparse.Namespace, items: list[Item], out: Path, segmenter: Segmenter) -> int:
    clips = sum(item.clip for item in items)
    print(f"segcam {version()} predict: {len(items) - clips} image file(s), {clips} clip(s) with "
          f"{segmenter.bundle.name} on {segmenter.engine.describe()} -> {out}", flush=True)
    writer = Writer(out, segmenter.classes, segmenter.palette, args.alpha, args.areas)
    progress = Progress(sum(frame_count(item, args.max_frames) for item in items), "images")
    failed = written = 0
    started = time.monotonic()
    try:
        for item in items:
            try:
                for picture in pictures(item, args.max_frames):
                    ids = segmenter(picture.image)
                    writer.write(picture.name, item.path, picture.index, picture.image, ids)
                    written += 1
                    progress.advance()
            except Unreadable as error:
                failed += 1
                progress.say(f"error: {error}")
    except KeyboardInterrupt:
        progress.close()
        writer.finish()  # what was segmented so far is still counted
        print(f"interrupted: {written} image(s) written to {out}", file=sys.stderr)
        return 130
    progress.close()
    areas = writer.finish()
    seconds = time.monotonic() - started
    print(f"{written} image(s) in {seconds:.1f} s ({written / max(seconds, 1e-9):.1f}/s) "
          f"written to {out}" + (f", areas in {areas.name}" if areas else "")
          + (f"; {failed} input(s) could not be read" if failed else ""), flush=True)
    return 1 if failed else 0
