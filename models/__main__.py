"""`python -m models check BUNDLE`, and `python -m models convert ...` (runs `python -m training
convert`: converting needs TensorFlow, which only the training side has)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from models.bundle import Bundle, BundleError, load_bundle

CONVERT = [sys.executable, "-m", "training", "convert"]
# The converter's usage lines and errors then name this command, not `python -m training`.
PROG_ENV = {"SEGCAM_CLI_PROG": "python -m models"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("convert", add_help=False,
                        help="Keras checkpoint -> fp16/int8 model bundle (python -m training convert)")
    check = commands.add_parser("check", help="verify a bundle's files and print a summary")
    check.add_argument("bundle")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["convert"]:
        return _convert(args[1:], replace_process=argv is None)
    parsed = build_parser().parse_args(args)
    try:
        print(dumps_summary(load_bundle(parsed.bundle)))
    except BundleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _convert(flags: list[str], replace_process: bool) -> int:
    """The training side's converter with the same flags. From the command line this process
    becomes it (same PID: signals and the exit status reach the caller unchanged)."""
    if replace_process:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [*CONVERT, *flags], {**os.environ, **PROG_ENV})
    return subprocess.run([*CONVERT, *flags], check=False,
                          env={**os.environ, **PROG_ENV}).returncode


def dumps_summary(bundle: Bundle) -> str:
    """A short human summary for `python -m models check`."""
    files = {fmt: f"{f.path} ({f.bytes / 1e6:.2f} MB)" for fmt, f in bundle.files.items()}
    return json.dumps({
        "name": bundle.name, "classes": len(bundle.classes),
        "input": f"{bundle.input.height}x{bundle.input.width}", "output": bundle.output,
        "files": files, "parity": bundle.parity,
    }, indent=2)


if __name__ == "__main__":
    sys.exit(main())
