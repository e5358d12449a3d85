"""Board telemetry for the HUD: jetson-stats (jtop) on a Jetson, /proc and /sys elsewhere.

A daemon thread does all the reading; `snapshot()` only copies the latest reading, so the
output thread never waits on a file, a socket or the jtop service.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

Reading = dict[str, float | str]

_THERMAL_GLOB = "/sys/class/thermal/thermal_zone*"
_JTOP_OFFLINE = -256  # jtop's value for a thermal zone that is offline


class Telemetry:
    """Read CPU/GPU load, temperatures, memory and power every `interval_s` in the background."""

    def __init__(self, interval_s: float = 2.0, use_jtop: bool = True) -> None:
        self.interval_s = interval_s
        self.use_jtop = use_jtop
        self._latest: Reading = {}
        self._latest_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="telemetry", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            # jtop answers once per interval; a daemon reader stuck longer cannot hold up exit.
            self._thread.join(self.interval_s + 1.0 if timeout is None else timeout)
            self._thread = None

    def snapshot(self) -> Reading:
        """The latest reading (empty before the first one); `age_s` says how old it is."""
        with self._lock:
            reading = dict(self._latest)
            taken = self._latest_at
        if taken is not None:
            reading["age_s"] = round(time.monotonic() - taken, 3)
        return reading

    def hud_text(self) -> str:
        """Short status for the HUD, e.g. 'CPU 43% GPU 12% 52C 7.1W'; '' until the first reading."""
        return format_hud(self.snapshot())

    def __enter__(self) -> Telemetry:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reader thread -----------------------------------------------------------------------

    def _publish(self, reading: Reading) -> None:
        with self._lock:
            self._latest = reading
            self._latest_at = time.monotonic()

    def _run(self) -> None:
        if self.use_jtop and self._run_jtop():
            return
        cpu = CpuLoad()
        self._stop.wait(min(self.interval_s, 0.25))  # CPU load needs two /proc/stat samples
        while not self._stop.is_set():
            try:
                self._publish(read_system(cpu))
            except Exception:  # telemetry is decoration: never let it kill the app
                log.exception("telemetry: reading /proc and /sys failed")
            self._stop.wait(self.interval_s)

    def _run_jtop(self) -> bool:
        """Read through jtop until stopped (True), or return False to fall back."""
        try:
            from jtop import jtop

            jetson = jtop(interval=self.interval_s)
            jetson.start()  # JtopException when jtop.service is not running
        except Exception as exc:
            from models.engines.devices import jetson_release

            # Off a Jetson jtop cannot work: its advice (install jtop's service) would mislead.
            level = logging.INFO if jetson_release() else logging.DEBUG
            log.log(level, "telemetry: jtop unavailable (%s); using /proc and /sys",
                    _one_line(exc))
            return False
        log.info("telemetry: reading jtop")
        try:
            while not self._stop.is_set():
                if not jetson.ok():  # blocks until jtop has a fresh sample
                    log.warning("telemetry: jtop stopped answering; using /proc and /sys")
                    return False
                self._publish(read_jtop(jetson.stats))
            return True
        except Exception as exc:
            log.warning("telemetry: jtop failed (%s); using /proc and /sys", _one_line(exc))
            return False
        finally:
            with contextlib.suppress(Exception):  # closing a broken client may raise again
                jetson.close()


def _one_line(exc: BaseException) -> str:
    """The message's first line, or its first two joined when the first ends in ':' (jtop's
    "... Please run:" puts the command on the next line)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return " ".join(lines[:2]) if lines[0].endswith(":") and len(lines) > 1 else lines[0]


# -- readings ------------------------------------------------------------------------------


def read_jtop(stats: dict[str, Any]) -> Reading:
    """Map jtop's `stats` dict (jetson-stats 4..7) to our keys."""
    reading: Reading = {"source": "jtop"}
    cpus = [float(v) for k, v in stats.items() if k.startswith("CPU") and _is_number(v)]
    if cpus:
        reading["cpu_percent"] = sum(cpus) / len(cpus)
    if _is_number(stats.get("GPU")):
        reading["gpu_percent"] = float(stats["GPU"])
    if _is_number(stats.get("RAM")):
        reading["ram_percent"] = 100.0 * float(stats["RAM"])  # jtop gives used / total
    temps = {
        k[5:].lower(): float(v)
        for k, v in stats.items()
        if k.startswith("Temp ") and _is_number(v) and float(v) > _JTOP_OFFLINE
    }
    _add_temperatures(reading, temps)
    if _is_number(stats.get("Power TOT")):
        reading["power_w"] = float(stats["Power TOT"]) / 1000.0  # milliwatts
    if isinstance(stats.get("nvp model"), str):
        reading["nvpmodel"] = stats["nvp model"]
    return reading


def read_system(cpu: CpuLoad) -> Reading:
    """CPU load from /proc/stat, memory from /proc/meminfo, temperatures from thermal zones."""
    reading: Reading = {"source": "system"}
    load = cpu.percent()
    if load is not None:
        reading["cpu_percent"] = load
    mem = _meminfo()
    if mem.get("MemTotal"):
        available = mem.get("MemAvailable", mem.get("MemFree", 0))
        reading["ram_percent"] = 100.0 * (1 - available / mem["MemTotal"])
    _add_temperatures(reading, thermal_zones())
    return reading


def _add_temperatures(reading: Reading, temps: dict[str, float]) -> None:
    if not temps:
        return
    reading["temp_c"] = max(temps.values())
    for name, value in temps.items():
        for part in ("cpu", "gpu"):
            if name.startswith(part) and f"{part}_temp_c" not in reading:
                reading[f"{part}_temp_c"] = value


def thermal_zones(pattern: str = _THERMAL_GLOB) -> dict[str, float]:
    """{zone type: °C} for every readable thermal zone with a plausible value."""
    temps: dict[str, float] = {}
    for zone in sorted(glob.glob(pattern)):
        try:
            with open(os.path.join(zone, "temp")) as f:
                celsius = int(f.read().strip()) / 1000.0
            with open(os.path.join(zone, "type")) as f:
                name = f.read().strip().lower() or os.path.basename(zone)
        except (OSError, ValueError):
            continue  # some zones refuse reads when their sensor is off
        if -40.0 < celsius < 150.0:
            temps[name if name not in temps else f"{name}{len(temps)}"] = celsius
    return temps


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                out[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


class CpuLoad:
    """Whole-machine CPU busy percent between two reads of /proc/stat."""

    def __init__(self, path: str = "/proc/stat") -> None:
        self.path = path
        self._last = self._read()

    def _read(self) -> tuple[int, int] | None:
        try:
            with open(self.path) as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle  # guest time is already counted in user

    def percent(self) -> float | None:
        now = self._read()
        last, self._last = self._last, now
        if now is None or last is None or now[0] <= last[0]:
            return None
        busy = (now[0] - last[0]) - (now[1] - last[1])
        return max(0.0, min(100.0, 100.0 * busy / (now[0] - last[0])))


def format_hud(reading: Reading) -> str:
    parts = []
    if "cpu_percent" in reading:
        parts.append(f"CPU {float(reading['cpu_percent']):.0f}%")
    if "gpu_percent" in reading:
        parts.append(f"GPU {float(reading['gpu_percent']):.0f}%")
    if "temp_c" in reading:
        parts.append(f"{float(reading['temp_c']):.0f}C")
    if "power_w" in reading:
        parts.append(f"{float(reading['power_w']):.1f}W")
    return " ".join(parts)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
