"""The budgets behind password checks and client-caused log lines, on a clock the test turns."""

from __future__ import annotations

import logging

import pytest

from app.log_limit import RepeatedEvents
from app.rate_limit import MAX_KEYS, CostLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_costly_check_puts_its_address_in_debt_and_others_keep_their_own_budget():
    clock = Clock()
    limiter = CostLimiter(0.1, 0.02, 1.0, 0.05, clock)
    assert limiter.allow("a")
    limiter.charge("a", 0.6)  # one 600,000-round check
    assert not limiter.allow("a")
    clock.now += 20
    assert not limiter.allow("a")  # 0.1 - 0.6 + 20 * 0.02 < 0
    clock.now += 6
    assert limiter.allow("a")  # paid back: about 25 s for 0.5 s of debt at 2 % of a core
    assert limiter.allow("b")  # another address was never held back by "a"


def test_cheap_checks_are_never_held_back():
    limiter = CostLimiter(0.1, 0.02, 1.0, 0.05, Clock())
    for _ in range(50):  # a 1,000-round hash: about a millisecond each
        assert limiter.allow("a")
        limiter.charge("a", 0.001)


def test_the_total_budget_holds_whatever_the_number_of_addresses():
    clock = Clock()
    limiter = CostLimiter(0.1, 0.02, 1.0, 0.05, clock)
    allowed = 0
    for address in range(100):
        if limiter.allow(str(address)):
            limiter.charge(str(address), 0.6)
            allowed += 1
    assert allowed == 2  # 1.0 s in all: the second check takes it into debt, then none
    for address in range(MAX_KEYS + 10):  # the table of addresses stays bounded
        limiter.allow(f"x{address}")
    assert len(limiter.keys) == MAX_KEYS


def test_repeated_events_log_one_line_then_the_count(caplog: pytest.LogCaptureFixture):
    clock = Clock()
    events = RepeatedEvents(logging.getLogger("test_rate_limit"), "bad requests", 60, clock=clock)
    with caplog.at_level(logging.WARNING, "test_rate_limit"):
        for _ in range(300):
            events.event("bad request from %s", "10.0.0.1")
            clock.now += 0.01
        assert [r.getMessage() for r in caplog.records] == ["bad request from 10.0.0.1"]
        clock.now += 60
        events.tick()
        events.event("bad request from %s", "10.0.0.2")  # a new minute: a new first line
        events.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "bad request from 10.0.0.1", "299 more bad requests in the last 63 s",
        "bad request from 10.0.0.2"]
