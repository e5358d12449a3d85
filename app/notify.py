"""systemd service notification (sd_notify) spoken by the app itself.

Own code rather than a dependency: PyPI's `sdnotify` (last release 2017) has no watchdog logic and
`systemd-python` needs libsystemd headers to build; the protocol is one datagram per message.

Under systemd (`Type=notify`, `WatchdogSec=`) the service manager sets NOTIFY_SOCKET and
WATCHDOG_USEC; everywhere else (a terminal, tests, CI) every call here is a cheap no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


def _parse_address(value: str) -> str | bytes | None:
    """NOTIFY_SOCKET as a sendto() address: a path, or '@name' for the abstract namespace."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()  # Linux abstract socket: leading NUL, no file
    return None  # e.g. systemd >= 254's "vsock:" addresses, which no Jetson release uses yet


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Half of WATCHDOG_USEC in seconds, as sd_watchdog_enabled(3) advises; None if not for us."""
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):  # the watchdog belongs to another process (our parent)
        return None
    return int(usec) / 2e6


class ServiceNotifier:
    """Sends READY/STATUS/STOPPING/WATCHDOG datagrams to systemd; a no-op when not under it."""

    def __init__(self, address: str | bytes | None = None, watchdog_interval: float | None = None):
        self.address = address
        self.watchdog_interval = watchdog_interval if address is not None else None
        self._sock: socket.socket | None = None
        # Reentrant: the app's SIGTERM handler (main thread) calls stopping(), and may interrupt
        # that same thread inside status(); a plain Lock would deadlock there.
        self._lock = threading.RLock()
        self._warned = False
        self._thread: threading.Thread | None = None
        if address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceNotifier:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        address = _parse_address(raw) if raw else None
        if raw and address is None:
            log.warning("NOTIFY_SOCKET=%r is not a unix socket address; not notifying systemd", raw)
        return cls(address, _watchdog_interval(env) if address is not None else None)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, message: str) -> bool:
        """Send one message ("KEY=value" lines); False when disabled or the send failed."""
        with self._lock:
            if self._sock is None or self.address is None:
                return False
            try:
                # MSG_NOSIGNAL: never die of SIGPIPE because the manager went away.
                self._sock.sendto(message.encode(), socket.MSG_NOSIGNAL, self.address)
            except OSError as exc:
                if not self._warned:  # once: a dead socket would otherwise flood the log
                    log.warning("systemd notify to %r failed: %s", self.address, exc)
                    self._warned = True
                return False
            return True

    def ready(self) -> bool:
        return self.notify("READY=1")

    def status(self, text: str) -> bool:
        # STATUS is one line; a newline would start a new (bogus) assignment.
        return self.notify("STATUS=" + " ".join(text.splitlines()))

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for `seconds` more to start or stop (a long TensorRT engine build, say)."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={int(seconds * 1e6)}")

    def start_watchdog(
        self, last_progress: Callable[[], float], stop_event: threading.Event
    ) -> threading.Thread | None:
        """Ping WATCHDOG=1 every interval while `last_progress()` (a time.monotonic() stamp the
        pipeline advances per frame) is younger than one interval. A stuck thread stops the stamp,
        the pings stop, and systemd kills and restarts the service after WatchdogSec."""
        interval = self.watchdog_interval
        if interval is None or not self.enabled:
            return None

        def run() -> None:
            next_tick = time.monotonic()
            while not stop_event.is_set():
                if time.monotonic() - last_progress() < interval:
                    self.watchdog()
                next_tick += interval  # fixed schedule: no drift from the send's own time
                delay = next_tick - time.monotonic()
                if delay < 0:  # we were descheduled for long; restart the schedule from now
                    next_tick, delay = time.monotonic(), 0.0
                if stop_event.wait(delay):
                    break

        self._thread = threading.Thread(target=run, name="sd-watchdog", daemon=True)
        self._thread.start()
        return self._thread

    def close(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
