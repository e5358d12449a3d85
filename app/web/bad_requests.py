"""What the log says about requests aiohttp cannot parse: one short line, then a count.

aiohttp logs each malformed request (a line or header over 8 KB, a bad request line, bytes that
are not HTTP) as an ERROR with a traceback whose message quotes the start of the offending line:
a cookie with the web token, or a URL with `?token=`. Anyone who can reach the port can cause
that, as often as they like. BadRequestLog stands in for aiohttp's server logger
(RequestHandler's `logger`): such a request becomes "web: bad request from ADDRESS (KIND)",
never any part of the request, through RepeatedEvents (one line a minute, then a count).
Any other error (a bug in a handler) still goes to aiohttp's logger with its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from app.log_limit import RepeatedEvents

log = logging.getLogger("app.web")


class BadRequestLog(logging.LoggerAdapter):
    def __init__(self, events: RepeatedEvents | None = None) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.events = events or RepeatedEvents(log, "bad requests")

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        error = _error(kwargs.get("exc_info"))
        if not isinstance(error, HttpProcessingError):
            super().log(level, msg, *args, **kwargs)
            return
        remote = args[0] if args else "?"  # aiohttp: "Error handling request from %s", remote
        if self.events.event("web: bad request from %s (%s, answered %s)", remote,
                             type(error).__name__, error.code):
            with_loop = _running_loop()
            if with_loop is not None:  # the count is told when the window closes, not later
                with_loop.call_later(self.events.window_s + 0.5, self.events.tick)

    def flush(self) -> None:
        self.events.flush()


def _error(exc_info: object) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1]
    if exc_info:
        return sys.exc_info()[1]
    return None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
