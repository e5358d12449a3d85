"""`segcam VERB ...`: train, evaluate, convert, benchmark, predict, run, doctor, check-config,
config. Without a verb (or with run flags first) it runs the app, as it always has.

The app's verbs go to `app.__main__` (`python -m app VERB` is the same), the training side's to
`training.__main__` (`python -m training VERB`; `python -m models convert` is convert): one
parser per verb, so each says the same under every name.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

PROG = "segcam"


@dataclass(frozen=True)
class Verb:
    name: str
    side: str  # "app" (runtime only) or "training" (python -m training)
    summary: str  # the one line `segcam --help` gives it


VERBS = (
    Verb("run", "app", "segment a camera or clip in real time: show, record, serve (default)"),
    Verb("predict", "app", "segment images, folders, globs or clips: overlays, class-id masks"),
    Verb("doctor", "app", "what this machine has for the config, and what to fix"),
    Verb("check-config", "app", "validate the app config, bundle and source, then exit"),
    Verb("train", "training", "train a Unet from a training config (TensorFlow)"),
    Verb("evaluate", "training", "IoU per class and mIoU of a bundle, or a checkpoint "
                                 "(TensorFlow)"),
    Verb("convert", "training", "Keras checkpoint -> fp16/int8 model bundle (TensorFlow)"),
    Verb("benchmark", "training", "speed and accuracy of every file and backend of a bundle"),
    Verb("config", "training", "the training config reference (--explain), or check a file"),
)
BY_NAME = {verb.name: verb for verb in VERBS}


def usage() -> str:
    from models.version import version

    width = max(len(verb.name) for verb in VERBS)
    lines = [f"usage: {PROG} [VERB] [flags]    {PROG} VERB --help    {PROG} --version", "",
             f"segcam {version()}: real-time camera segmentation, from training to the camera.",
             "", "verbs:"]
    lines += [f"  {verb.name:<{width}}  {verb.summary}" for verb in VERBS]
    lines += ["",
              f"No verb runs the app: `{PROG}` runs configs/app.yaml, `{PROG} --source csi://0`",
              f"is `{PROG} run --source csi://0`. Only the verbs marked (TensorFlow) need it; the",
              "rest run on a Jetson's runtime. The same verbs: python -m app run|predict|doctor|",
              "check-config, python -m training train|evaluate|convert|benchmark|config, and",
              "python -m models convert."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """The console script. Exits (the app's verbs without the interpreter's shutdown, as
    `python -m app` does)."""
    from_command_line = argv is None
    args = list(sys.argv[1:] if argv is None else argv)
    first = args[0] if args else None
    if first in ("-h", "--help", "help"):
        sys.stdout.write(usage())
        sys.exit(0)
    if first in ("-V", "--version"):
        from models.version import version

        print(f"segcam {version()}")
        sys.exit(0)
    if first is not None and not first.startswith("-") and first not in BY_NAME:
        # The run takes no positional argument: a word here is a mistyped verb.
        print(f"{PROG}: unknown verb {first!r} (one of {', '.join(BY_NAME)}; {PROG} --help)",
              file=sys.stderr)
        sys.exit(2)
    verb = BY_NAME["run"] if first is None or first.startswith("-") else BY_NAME[first]
    if verb.side == "training":
        sys.exit(_training(args, from_command_line))
    from app.__main__ import exit_now
    from app.__main__ import main as app_main

    exit_now(app_main(args, prog=PROG))


def _training(args: list[str], from_command_line: bool) -> int:
    try:
        from training.__main__ import main as training_main
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] != "training":
            raise
        # An install without the training package (the wheel is built with it; an old
        # editable install may not map it).
        print(f"{PROG} {args[0]}: the training package is not installed here "
              "(pip install --no-deps -e . in the checkout)", file=sys.stderr)
        return 2
    # From the command line training may re-execute itself under tcmalloc (training/allocator.py):
    # it then reads sys.argv, which holds the verb first, like `args`.
    return training_main(None if from_command_line else args, prog=PROG)
