"""Token buckets that budget a costly thing, per client address and in total.

A bucket holds up to `burst` units (here seconds of CPU) and gains `per_second` back. Work may
start while both the address's bucket and the total one hold something; what it then cost is
taken from both, which may leave them in debt. So a person who mistypes a password gets a
retry at once, a client that keeps on waits until its debt is paid back (a back-off that
needs no state beyond the bucket), and many addresses together never get more than the total
budget. Charging the measured cost, not a count, keeps the budget right whatever one check
costs (a 1,000-round test hash or 600,000 rounds on a slow board).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 1024  # addresses remembered; the oldest is forgotten first (the total still holds)


@dataclass
class TokenBucket:
    burst: float
    per_second: float
    tokens: float
    at: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now


class CostLimiter:
    """allow(key) before the work, charge(key, cost) after it."""

    def __init__(self, burst: float, per_second: float, total_burst: float,
                 total_per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.per_second = burst, per_second
        self.clock = clock
        self.total = TokenBucket(total_burst, total_per_second, total_burst, clock())
        self.keys: OrderedDict[str, TokenBucket] = OrderedDict()

    def _bucket(self, key: str, now: float) -> TokenBucket:
        bucket = self.keys.pop(key, None) or TokenBucket(self.burst, self.per_second,
                                                          self.burst, now)
        self.keys[key] = bucket  # the most recent last: the oldest is evicted first
        if len(self.keys) > MAX_KEYS:
            self.keys.popitem(last=False)
        bucket.refill(now)
        return bucket

    def allow(self, key: str) -> bool:
        now = self.clock()
        bucket = self._bucket(key, now)
        self.total.refill(now)
        return bucket.tokens > 0 and self.total.tokens > 0

    def charge(self, key: str, cost: float) -> None:
        now = self.clock()
        self._bucket(key, now).tokens -= cost
        self.total.refill(now)
        self.total.tokens -= cost
