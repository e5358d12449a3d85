"""Telemetry: the real /proc and /sys fallback here, a thin fake for jtop's service."""

from __future__ import annotations

import logging
import sys
import threading
import time
import types

import psutil
import pytest

import app.telemetry as telemetry
from app.telemetry import CpuLoad, Telemetry, format_hud, read_jtop, thermal_zones


def wait_for(tel: Telemetry, key: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = tel.snapshot()
        if key in snap:
            return snap
        time.sleep(0.02)
    pytest.fail(f"no {key!r} in telemetry after {timeout} s: {tel.snapshot()}")


# jetson-stats 7 `jtop.stats` on an Orin (abridged): CPU per core or 'OFF', RAM as a fraction,
# GPU load in %, temperatures in °C (-256 when offline), power in mW.
ORIN_STATS = {
    "CPU1": 40, "CPU2": 50, "CPU3": "OFF", "CPU4": 30,
    "RAM": 0.25, "SWAP": 0.0, "EMC": 12, "GPU": 37.5,
    "Temp cpu": 51.2, "Temp gpu": 49.8, "Temp soc0": -256, "Temp tj": 53.0,
    "Power VDD_IN": 7150, "Power TOT": 7150, "jetson_clocks": "OFF", "nvp model": "15W",
}


class FakeJtop:
    """Just the jtop 7 surface Telemetry uses: start(), ok(), stats, close()."""

    fail_with: Exception | None = None
    delay_s = 0.0

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.closed = False

    def start(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def ok(self, spin: bool = False) -> bool:
        time.sleep(self.delay_s or min(self.interval, 0.05))  # jtop blocks until new data
        return True

    @property
    def stats(self) -> dict:
        return dict(ORIN_STATS)

    def close(self) -> None:
        self.closed = True


class JtopException(Exception):
    pass


@pytest.fixture
def fake_jtop(monkeypatch):
    module = types.ModuleType("jtop")
    module.jtop = FakeJtop
    module.JtopException = JtopException
    monkeypatch.setitem(sys.modules, "jtop", module)
    monkeypatch.setattr(FakeJtop, "fail_with", None)
    monkeypatch.setattr(FakeJtop, "delay_s", 0.0)
    return FakeJtop


def test_fallback_reads_plausible_values_here(caplog, monkeypatch):
    # The real jetson-stats is installed but its service is not running: the real fallback path.
    monkeypatch.setenv("SEGCAM_SYSROOT", "/")  # this machine, no Jetson
    caplog.set_level(logging.INFO, logger="app.telemetry")
    with Telemetry(interval_s=0.2) as tel:
        snap = wait_for(tel, "cpu_percent", timeout=10)
        snap = wait_for(tel, "ram_percent")
    assert snap["source"] == "system"
    assert 0.0 <= snap["cpu_percent"] <= 100.0
    assert abs(snap["ram_percent"] - psutil.virtual_memory().percent) < 15
    if "temp_c" in snap:  # this machine may have no thermal zones at all
        assert 0.0 < snap["temp_c"] < 120.0
    assert tel.hud_text().startswith("CPU ")
    # off a Jetson the fallback is the rule, not news: said at DEBUG only, once
    jtop_lines = [r for r in caplog.records if "jtop unavailable" in r.getMessage()]
    assert not jtop_lines


def test_cpu_load_follows_a_busy_loop():
    cpu = CpuLoad()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass  # one core busy
    load = cpu.percent()
    assert load is not None and 20.0 <= load <= 100.0


def test_thermal_zones_parse_sysfs_layout(tmp_path):
    for i, (kind, milli) in enumerate([("CPU-therm", 45500), ("GPU-therm", 43000), ("bad", -99000)]):
        zone = tmp_path / f"thermal_zone{i}"
        zone.mkdir()
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(f"{milli}\n")
    temps = thermal_zones(str(tmp_path / "thermal_zone*"))
    assert temps == {"cpu-therm": 45.5, "gpu-therm": 43.0}


def test_jtop_stats_map_to_gpu_load_temperature_and_power():
    reading = read_jtop(ORIN_STATS)
    assert reading["source"] == "jtop"
    assert reading["cpu_percent"] == pytest.approx(40.0)  # OFF core ignored
    assert reading["gpu_percent"] == pytest.approx(37.5)
    assert reading["gpu_temp_c"] == pytest.approx(49.8)
    assert reading["cpu_temp_c"] == pytest.approx(51.2)
    assert reading["temp_c"] == pytest.approx(53.0)  # hottest zone; offline soc0 ignored
    assert reading["power_w"] == pytest.approx(7.15)
    assert reading["ram_percent"] == pytest.approx(25.0)
    assert reading["nvpmodel"] == "15W"
    assert format_hud(reading) == "CPU 40% GPU 38% 53C 7.2W"


def test_jtop_path_feeds_snapshot(fake_jtop):
    with Telemetry(interval_s=0.05) as tel:
        snap = wait_for(tel, "gpu_percent")
    assert snap["source"] == "jtop"
    assert snap["power_w"] == pytest.approx(7.15)
    assert "GPU 38%" in tel.hud_text()


def test_jtop_service_missing_falls_back_and_logs_once(fake_jtop, caplog, monkeypatch,
                                                      tmp_path):
    (tmp_path / "etc").mkdir()  # a Jetson's root, where the advice is worth an INFO line
    (tmp_path / "etc" / "nv_tegra_release").write_text(
        "# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic, EABI: aarch64\n")
    monkeypatch.setenv("SEGCAM_SYSROOT", str(tmp_path))
    caplog.set_level(logging.INFO, logger="app.telemetry")
    fake_jtop.fail_with = JtopException(
        "The jtop.service is not active. Please run:\nsudo jtop --install-service"
    )
    with Telemetry(interval_s=0.05) as tel:
        snap = wait_for(tel, "cpu_percent")
        time.sleep(0.2)  # several more readings: still one log line
    assert snap["source"] == "system"
    lines = [r.getMessage() for r in caplog.records if "jtop" in r.getMessage()]
    assert lines == [
        "telemetry: jtop unavailable (The jtop.service is not active. Please run: "
        "sudo jtop --install-service); using /proc and /sys"
    ]


def test_snapshot_is_instant_while_the_reader_is_slow(monkeypatch):
    inside = threading.Event()
    real = telemetry.read_system

    def slow_read(cpu):
        inside.set()
        time.sleep(1.0)  # e.g. an SD card stalled under write load
        return real(cpu)

    monkeypatch.setattr(telemetry, "read_system", slow_read)
    tel = Telemetry(interval_s=0.05, use_jtop=False)
    tel.start()
    try:
        assert inside.wait(5)
        worst = 0.0
        for _ in range(200):
            start = time.perf_counter()
            tel.snapshot()
            tel.hud_text()
            worst = max(worst, time.perf_counter() - start)
        assert worst < 0.05
        assert tel.hud_text() == ""  # nothing read yet, and nothing invented
    finally:
        tel.stop(timeout=0.1)  # does not wait for the stuck read either
