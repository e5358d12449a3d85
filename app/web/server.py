"""The web server: aiohttp on its own thread with its own event loop.

aiohttp because it is a maintained asyncio HTTP server that streams (MJPEG), serves files with
Range requests (video seeking) and runs inside an app without taking over its main thread.
The socket is bound in the caller's thread, so a taken port or a bad address is an error at
start-up, before any pipeline thread runs. `stop()` ends the streams, closes the server and
joins the thread within STOP_S, well inside the app's stop budget.

Connections are bounded in all and per address (limits.py), and one that holds no request in
progress (idle, or a request head still arriving) is closed IDLE_S after it opened or after
its last reply: idle clients cannot pile up and take the descriptors the recorder needs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import socket
import threading
import time

from aiohttp import web

from app.config import ConfigError, WebSettings, split_listen
from app.web.auth import auth_middleware
from app.web.bad_requests import BadRequestLog
from app.web.limits import AcceptErrors, Admission, ConnectionLimiter
from app.web.routes import Routes

log = logging.getLogger("app.web")
STOP_S = 2.0  # streams end, the server closes and the thread joins within this
WORKERS = 2  # JPEG, PNG, listing, remux and /metrics: one board, two cores
# A browser sends its next request within a second or two, and its whole request head at once.
IDLE_S = 5.0
BACKLOG = 64  # also how many connections asyncio accepts at a time, before any is refused


def bind(listen: str) -> socket.socket:
    """A listening socket for 'host:port'; ConfigError (one line, exit 2) when it cannot be."""
    host, port = split_listen(listen)
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if host == "localhost":
            host = "127.0.0.1"
        return socket.create_server((host, port), family=family, backlog=BACKLOG,
                                      reuse_port=False)
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise ConfigError(f"web.listen: cannot listen on {listen} ({reason})") from None


class WebServer:
    def __init__(self, settings: WebSettings, routes: Routes,
                 limiter: ConnectionLimiter | None = None) -> None:
        self.settings = settings
        self.routes = routes
        self.pool = routes.pool
        self.sock = bind(settings.listen)
        host, port = self.sock.getsockname()[:2]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._sampler: asyncio.Task | None = None
        self._sweeper: asyncio.Task | None = None
        self._listener: asyncio.Server | None = None
        self.limiter = limiter or ConnectionLimiter()
        self.bad_requests = BadRequestLog()

    def start(self) -> None:
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="web",
                                        daemon=True)
        self._thread.start()
        ready.result(timeout=30)
        log.info("web: serving %s%s", self.url,
                 " (token required)" if self.settings.token_sha256 else "")
        log.debug("web: at most %d connections, %d per address", self.limiter.total,
                  self.limiter.per_address)

    def frame_ready(self) -> None:
        """From any thread: a new JPEG is ready for the streams."""
        self._loop.call_soon_threadsafe(self.routes.frame_ready)

    def stop(self) -> None:
        if self._thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(STOP_S)
        except concurrent.futures.TimeoutError:
            log.warning("web: server did not close within %.0f s; leaving it", STOP_S)
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_S)
        self._thread = None
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- the web thread ----------------------------------------------------------------------

    def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as error:  # noqa: BLE001 - handed to the starting thread
            ready.set_exception(error)
            self._loop.close()
            return
        ready.set_result(None)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _start(self) -> None:
        app = web.Application(middlewares=[auth_middleware(self.settings.token_sha256)])
        self.routes.add_to(app)
        self.routes.started()
        # Streams end on `closing`; shutdown_timeout only bounds requests still running.
        # handler_cancellation: a viewer who leaves frees its stream slot at once, not at the
        # next frame that fails to send. keepalive_timeout: aiohttp closes a connection with
        # no request in progress (never sent one, a head half sent, idle after a reply) then.
        # logger: a malformed request is one short line.
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=1.0, handler_cancellation=True,
                                     keepalive_timeout=IDLE_S, logger=self.bad_requests)
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(AcceptErrors())
        handlers = self._runner.server  # aiohttp's protocol factory
        # Not web.SockSite: each accepted connection passes the limiter before aiohttp.
        self._listener = await loop.create_server(lambda: Admission(self.limiter, handlers),
                                                  sock=self.sock, backlog=BACKLOG)
        self._sampler = asyncio.create_task(self.routes.sample_rates())
        self._sweeper = asyncio.create_task(self.limiter.sweep_forever())

    async def _shutdown(self) -> None:
        self.routes.stop_streams()
        for task in (self._sampler, self._sweeper):
            if task is not None:
                task.cancel()
        if self._listener is not None:
            self._listener.close()  # no new connections; the runner closes the open ones
        self.limiter.refusals.flush(time.monotonic(), final=True)
        if self._runner is not None:
            await self._runner.cleanup()
        self.bad_requests.flush()
