"""Connection limits for the web server: a flood of clients cannot take the descriptors the
recorder needs.

Every TCP connection holds a descriptor, and a download one more. The number of connections
is bounded in all (a small share of the process's descriptor limit, read with getrlimit, so
the recorder, the camera and GStreamer always have descriptors left) and per client address;
a connection over either bound is closed at once, before aiohttp sees it. Refusals are logged
as one line, then as a summary at most once a minute, never a line each. Idle connections and
request heads that do not complete are closed by aiohttp's keep-alive timer (server.py).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("app.web")

MAX_CONNECTIONS = 256  # in all, whatever the descriptor limit: a camera has few viewers
FD_SHARE = 8  # ... and at most this fraction of the descriptor limit (1024 -> 128)
MIN_CONNECTIONS = 8
PER_ADDRESS = 32  # a browser opens at most 6 per host; a NAT or a proxy a few times that
LINGER_S = 10.0  # a closed connection whose client takes no bytes is cut after this
SUMMARY_S = 60.0  # refusals are summed up in one line at most this often
SWEEP_S = 1.0


def connection_budget(soft_limit: int | None = None) -> int:
    """Connections the web server may hold at once under this process's descriptor limit.

    Well below the limit: each connection may also hold a file (a download), asyncio accepts
    up to a backlog of connections before any is refused, and the rest of the app needs its
    own. It also keeps descriptor numbers low for libraries that still use select().
    """
    if soft_limit is None:
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft_limit == resource.RLIM_INFINITY or soft_limit < 0:
        soft_limit = MAX_CONNECTIONS * FD_SHARE
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, soft_limit // FD_SHARE))


def client_address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if not peer:
        return "?"
    host = str(peer[0]) if isinstance(peer, tuple) else str(peer)
    return host.removeprefix("::ffff:")  # an IPv4 client on a dual-stack socket


@dataclass
class _Open:
    address: str
    closing_since: float | None = None


class Refusals:
    """Refused connections: one line when refusing starts, then at most one summary a period
    while it goes on (a flood of thousands a second is a line a minute)."""

    def __init__(self, period_s: float = SUMMARY_S) -> None:
        self.period_s = period_s
        self.total = 0
        self._pending: Counter[str] = Counter()
        self._next_log: float | None = None  # None: quiet for a period, the next one is news

    def add(self, address: str, why: str, now: float) -> None:
        self.total += 1
        if self._next_log is None or now >= self._next_log + self.period_s:
            log.warning("web: refusing connections from %s: %s; each is closed at once, and "
                        "a count follows at most once a minute", address, why)
            self._next_log = now + self.period_s
            return
        self._pending[address] += 1

    def flush(self, now: float, final: bool = False) -> None:
        """Log the count refused since the last line once its period is over (each sweep), or
        now when the server stops (`final`)."""
        if self._next_log is None or (now < self._next_log and not final):
            return
        count = sum(self._pending.values())
        if not count:
            if now >= self._next_log + self.period_s:
                self._next_log = None  # a quiet period: the next refusal is news again
            return
        address, most = self._pending.most_common(1)[0]
        log.warning("web: refused %d more connection(s) over the limits (%s from %s)",
                    count, "all" if most == count else most, address)
        self._pending.clear()
        self._next_log = now + self.period_s


class ConnectionLimiter:
    """Admits a new connection while its address and the whole server are under their bounds.

    Runs on the web thread's loop only. A connection counts until its descriptor is closed
    (not merely until close() was asked for: a client that takes no bytes keeps it open).
    """

    def __init__(self, total: int | None = None, per_address: int = PER_ADDRESS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = connection_budget() if total is None else total
        self.per_address = min(per_address, self.total)
        self.refusals = Refusals()
        self._clock = clock
        self._open: dict[asyncio.BaseTransport, _Open] = {}

    @property
    def connections(self) -> int:
        return len(self._open)

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        address = client_address(transport)
        why = self._over(address)
        if why:
            self.sweep()  # some may have closed since the last sweep
            why = self._over(address)
        if why:
            self.refusals.add(address, why, self._clock())
            return False
        self._open[transport] = _Open(address)
        return True

    def _over(self, address: str) -> str:
        """Why one more connection from `address` is one too many ("" if it is not)."""
        if len(self._open) >= self.total:
            return f"{self.total} connections open (the limit in all)"
        if sum(1 for c in self._open.values() if c.address == address) >= self.per_address:
            return f"{self.per_address} connections open from one address (the limit per address)"
        return ""

    def sweep(self) -> None:
        """Forget closed connections, cut those that linger closing, log pending refusals."""
        now = self._clock()
        for transport, entry in list(self._open.items()):
            sock = transport.get_extra_info("socket")
            if sock is None or sock.fileno() < 0:
                del self._open[transport]
            elif transport.is_closing():
                if entry.closing_since is None:
                    entry.closing_since = now
                elif now - entry.closing_since > LINGER_S:
                    transport.abort()  # its descriptor is closed on the loop's next turn
        self.refusals.flush(now)

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            self.sweep()


class Admission(asyncio.Protocol):
    """The protocol of a connection just accepted: hands it to aiohttp if the limiter admits
    it, and closes it at once (no reply, no log line of its own) if not."""

    def __init__(self, limiter: ConnectionLimiter,
                 make_handler: Callable[[], asyncio.Protocol]) -> None:
        self.limiter = limiter
        self.make_handler = make_handler

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self.limiter.admit(transport):
            transport.abort()
            return
        handler = self.make_handler()
        transport.set_protocol(handler)  # from here on the transport talks to aiohttp only
        handler.connection_made(transport)


class AcceptErrors:
    """The loop's exception handler: asyncio logs each accept() that fails for want of
    descriptors with a traceback, thousands a second under a flood; here it is one line a
    period. Everything else goes to asyncio's default handler."""

    def __init__(self, period_s: float = SUMMARY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.period_s = period_s
        self.count = 0
        self._clock = clock
        self._next_log = 0.0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if not str(context.get("message", "")).startswith("socket.accept() out of system"):
            loop.default_exception_handler(context)
            return
        self.count += 1
        now = self._clock()
        if now >= self._next_log:
            self._next_log = now + self.period_s
            log.warning("web: cannot accept connections: %s (%d time(s) so far); retrying",
                        context.get("exception"), self.count)
