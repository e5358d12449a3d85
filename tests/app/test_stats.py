"""Counters and latency windows: bounded, and rates that survive concurrent ticks."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from app.stats import WINDOW, Rate, Stats


def test_latency_windows_are_bounded_and_give_percentiles_in_ms():
    stats = Stats()
    for i in range(10 * WINDOW):
        stats.record("infer", 0.001 * (i % 100 + 1))  # 1..100 ms
    assert len(stats.latency["infer"]) == WINDOW
    snap = stats.snapshot({"capture": 3})
    assert snap["latency"]["infer"]["p50_ms"] == pytest.approx(50.5, abs=1)
    assert snap["latency"]["infer"]["p95_ms"] == pytest.approx(95, abs=1.5)
    assert snap["drops"] == {"capture": 3} and snap["camera"] == "offline"


def test_rate_is_per_period_and_total_is_cumulative():
    rate = Rate()
    for _ in range(10):
        rate.tick()
    time.sleep(0.05)
    assert 0 < rate.take() <= 10 / 0.05
    assert rate.take() == 0.0  # nothing since the last take
    rate.tick()
    assert rate.total == 11


def test_no_tick_is_lost_or_counted_twice_when_a_take_races_the_ticker(monkeypatch):
    """The sum of the per-period counts equals the total, however takes and ticks interleave."""
    clock = iter(range(10**9))
    monkeypatch.setattr("app.stats.time.monotonic", lambda: float(next(clock)))
    # Switch threads as often as possible: with a shared counter reset by take(), this loses
    # about a third of the ticks.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    rate = Rate()  # each take() sees one "second" pass, so its rate is that period's count
    counted = 0.0
    done = threading.Event()

    def ticker() -> None:
        for _ in range(300_000):
            rate.tick()
        done.set()

    thread = threading.Thread(target=ticker)
    try:
        thread.start()
        while not done.is_set():
            counted += rate.take()
        thread.join()
    finally:
        sys.setswitchinterval(interval)
    counted += rate.take()
    assert rate.total == 300_000
    assert counted == 300_000
