"""The app's one log handler: stdout (the journal under systemd), passwords redacted, and a
reader that goes away (`python -m app | head -3`) ends the run quietly instead of tracebacks."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from app.redact import RedactingFilter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class StdoutHandler(logging.StreamHandler):
    """Writes to sys.stdout; on a broken pipe it goes silent and calls `on_broken` once."""

    def __init__(self, on_broken: Callable[[], None] | None = None) -> None:
        super().__init__(sys.stdout)
        self.on_broken = on_broken
        self.broken = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.broken:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if not isinstance(sys.exc_info()[1], BrokenPipeError):
            super().handleError(record)
            return
        if self.broken:
            return
        self.broken = True
        silence_stdout()
        if self.on_broken is not None:
            self.on_broken()


def silence_stdout() -> None:
    """Point fd 1 at /dev/null: what is still buffered, and any later write, goes nowhere
    instead of raising BrokenPipeError again (the recipe of Python's signal docs)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout already closed or not a real file
        pass
    finally:
        os.close(devnull)


def install(level: str, on_broken: Callable[[], None] | None = None) -> StdoutHandler:
    """Route every logger to one redacting stdout handler (as basicConfig would, plus the filter)."""
    handler = StdoutHandler(on_broken)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    return handler
