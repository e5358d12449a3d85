"""`segcam`: the one command users type. `segcam` runs, `segcam doctor` checks this machine
for the config, `segcam check-config` validates it; every other flag goes to the run
(`segcam --source csi://0`). The same as `python -m app ...`."""

from __future__ import annotations

import sys


def main() -> None:
    from app.__main__ import exit_now
    from app.__main__ import main as app_main

    exit_now(app_main(sys.argv[1:], prog="segcam"))
