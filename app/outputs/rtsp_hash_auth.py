"""RTSP Basic auth against the pbkdf2 password hash, without letting wrong passwords eat the CPU.

One check of the hash is 600,000 rounds of PBKDF2, 0.3-1 s of a core, run on the RTSP thread.
Unlimited, 1.4 wrong passwords a second halved the camera's frame rate. So:
- a credential that passed once is remembered as a keyed hash (a random key of this process),
  so a viewer that reconnects or sends it with every request costs one HMAC;
- any other credential is checked only while the CPU budget allows (app/rate_limit.py): each
  check's CPU time is charged to its client address and to a total, which refill at
  ADDRESS_SHARE and TOTAL_SHARE of one core. The rest are refused (401) without hashing. So an
  address's first try is always checked, its next one once the cost is paid back (about 30 s
  for 600,000 rounds on a desktop core), and an attack costs at most TOTAL_SHARE of a core
  (ADDRESS_SHARE from any one address) whatever its rate. Cheap hashes (few rounds) are
  checked as often as anyone tries;
- failures are logged as one line, then counted (app/log_limit.py), never with the password.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

from app.log_limit import RepeatedEvents
from app.outputs.rtsp_auth import verify_password
from app.rate_limit import CostLimiter

log = logging.getLogger("app.outputs.rtsp")
# Seconds of CPU for password checks. A check may start while the budget is above 0 and is
# charged what it cost, so the budget may go into debt by one check. The check also blocks
# the RTSP thread (and so the viewers' data) while it runs: keep the bursts small.
ADDRESS_BURST_S = 0.1
ADDRESS_SHARE = 0.02  # of one core, per address
TOTAL_BURST_S = 1.0
TOTAL_SHARE = 0.05  # of one core, all addresses together


def new_limiter() -> CostLimiter:
    return CostLimiter(ADDRESS_BURST_S, ADDRESS_SHARE, TOTAL_BURST_S, TOTAL_SHARE)


@functools.lru_cache(maxsize=1)
def hash_auth_class(Server: Any, GstRtsp: Any) -> type:
    """RTSPAuth that checks Basic credentials against a pbkdf2 hash (made once: a GType)."""

    class HashAuth(Server.RTSPAuth):
        def expect(self, username: str, password_hash: str, token: Any,
                   failures: RepeatedEvents) -> None:
            self._username = username
            self._hash = password_hash
            self._token = token
            self._key = secrets.token_bytes(32)
            self._verified: set[bytes] = set()  # keyed hashes of the credentials that passed
            self._limiter = new_limiter()
            self._failures = failures

        def do_authenticate(self, ctx: Any) -> bool:
            result, value = ctx.request.get_header(GstRtsp.RTSPHeaderField.AUTHORIZATION, 0)
            if result == GstRtsp.RTSPResult.OK and value and value.startswith("Basic "):
                credential = value[len("Basic "):].strip()
                seen = hmac.new(self._key, credential.encode(), hashlib.sha256).digest()
                if seen not in self._verified and self._check(credential, _address(ctx)):
                    # Known from now on: the base class accepts it without hashing again.
                    self._verified.add(seen)
                    self.add_basic(credential, self._token)
            return Server.RTSPAuth.do_authenticate(self, ctx)

        def _check(self, credential: str, address: str) -> bool:
            try:
                user, sep, password = base64.b64decode(credential, validate=True).decode() \
                    .partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, sep, password = "", "", ""
            if not sep or user != self._username:
                self._failures.event("rtsp: failed login from %s (unknown user)", address)
                return False
            if not self._limiter.allow(address):
                self._failures.event("rtsp: failed login from %s (refused unchecked: too many "
                                     "wrong passwords, retry later)", address)
                return False
            started = time.thread_time()  # CPU, not wall time: a busy machine is no excuse
            good = verify_password(password, self._hash)
            self._limiter.charge(address, time.thread_time() - started)
            if good:
                return True
            self._failures.event("rtsp: failed login from %s (wrong password)", address)
            return False

    return HashAuth


def _address(ctx: Any) -> str:
    try:
        return ctx.conn.get_ip() or "?"
    except AttributeError:  # no connection in the context (never seen): one shared bucket
        return "?"
