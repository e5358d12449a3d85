"""The web output's cost, side by side in one run of the real app (`python -m app`, subprocess).

    python bench/network.py [--bundle models/camvid-unet] [--clip media/camvid-val.mp4]
                            [--rounds 4] [--phase-s 10] [--connects 1000]

0. Latency: a live test:// camera, one viewer: capture -> bytes received, next to the
   pipeline's own capture -> output latency.
1. Throughput: the app segments the clip in a loop as fast as it can (compute-bound, no
   recording); phases with 0 viewers alternate with phases of 4 MJPEG viewers, one of them
   reading 1 frame a second. Prints frames/s of both and their ratio (goal >= 0.9).
2. Churn: 1,000 times connect, read one frame, disconnect; the app's RSS before and after
   (goal: growth < 10 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def start_app(bundle: Path, source: dict, work: Path) -> tuple[subprocess.Popen, str, Path]:
    config = work / "bench.yaml"
    config.write_text(yaml.safe_dump({
        "source": source,
        "model": {"bundle": str(bundle.resolve())}, "display": {"enabled": False},
        "record": {"enabled": False}, "telemetry": {"enabled": False},
        "pipeline": {"stats_interval_s": 60},
        "web": {"enabled": True, "listen": "127.0.0.1:0", "max_clients": 8}}))
    log = work / "app.log"
    process = subprocess.Popen([sys.executable, "-m", "app", "--config", str(config),
                                "--headless"], cwd=ROOT, stdout=log.open("w"),
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"web: serving (http://\S+/)", log.read_text())
        if found and "first frame through" in log.read_text():
            return process, found.group(1), log
        if process.poll() is not None:
            raise SystemExit(f"the app exited:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the app did not start within 120 s")


def stats(url: str) -> dict:
    with urllib.request.urlopen(url + "api/stats", timeout=30) as reply:
        return json.loads(reply.read())


def frames_out(url: str) -> int:
    return stats(url)["frames"]["output"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Viewer(threading.Thread):
    """An MJPEG client reading every part it can, or one a second (`slow`)."""

    def __init__(self, url: str, slow: bool) -> None:
        super().__init__(daemon=True)
        host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
        self.file = self.sock.makefile("rb")
        self.slow = slow
        self.frames = 0
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def part(self) -> float:
        """Read one part; its capture time (X-Timestamp)."""
        length, stamp = None, None
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError
            line = line.strip()
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            elif line.lower().startswith(b"x-timestamp:"):
                stamp = float(line.split(b":")[1])
            elif not line and length is not None:
                self.file.read(length)
                return stamp

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                stamp = self.part()
                self.frames += 1
                if not self.slow:
                    self.latencies.append(time.time() - stamp)
                else:
                    self.stop.wait(1.0)
        except (OSError, EOFError, ValueError):
            pass

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the app has used (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_phase(url: str, pid: int, viewers: int,
                  phase_s: float) -> tuple[float, float, list[Viewer]]:
    """(frames/s, app CPU ms per frame, the viewers) over one phase."""
    clients = [Viewer(url, slow=(i == 0)) for i in range(viewers)]
    for client in clients:
        client.start()
    time.sleep(1.0)  # let connections settle before counting
    start_frames, start, start_cpu = frames_out(url), time.monotonic(), cpu_s(pid)
    time.sleep(phase_s)
    frames = frames_out(url) - start_frames
    fps = frames / (time.monotonic() - start)
    cpu_ms = 1000 * (cpu_s(pid) - start_cpu) / max(frames, 1)
    for client in clients:
        client.close()
    return fps, cpu_ms, clients


def churn(url: str, count: int) -> None:
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    for _ in range(count):
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
            got = b""
            while b"image/jpeg\r\nContent-Length" not in got:
                chunk = sock.recv(65536)
                if not chunk:
                    raise SystemExit(f"stream refused: {got[:200]!r}")
                got += chunk


def latency(bundle: Path, work: Path, seconds: float = 15.0) -> None:
    """A live camera (test://, 10 frames/s, which the CPU keeps up with): capture -> bytes at a
    viewer, against the pipeline's own capture -> output latency over the same time."""
    process, url, _log = start_app(bundle, {"uri": "test://", "width": 480, "height": 360,
                                            "fps": 10}, work)
    try:
        viewer = Viewer(url, slow=False)
        viewer.start()
        time.sleep(seconds)
        viewer.close()
        own = stats(url)["latency"]["capture_to_output"]
        q = statistics.quantiles(viewer.latencies, n=20)
        print(f"live test:// 480x360 @ 10 fps: capture -> viewer p50 "
              f"{1000 * statistics.median(viewer.latencies):.0f} ms, p95 {1000 * q[18]:.0f} ms "
              f"over {len(viewer.latencies)} frames; the pipeline's capture -> output p50 "
              f"{own['p50_ms']:.0f} ms, p95 {own['p95_ms']:.0f} ms")
    finally:
        process.terminate()
        process.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "camvid-unet")
    parser.add_argument("--clip", type=Path, default=ROOT / "media" / "camvid-val.mp4")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--phase-s", type=float, default=10.0)
    parser.add_argument("--connects", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-network-") as work:
        latency(args.bundle, Path(work))
        clip = {"uri": str(args.clip.resolve()), "loop": True, "realtime": False}
        process, url, _log = start_app(args.bundle, clip, Path(work))
        try:
            idle, watched, idle_cpu, watched_cpu = [], [], [], []
            for round_ in range(args.rounds):
                # ABBA order: a machine whose load drifts favours neither side.
                order = (0, 4) if round_ % 2 == 0 else (4, 0)
                for viewers in order:
                    fps, cpu_ms, clients = measure_phase(url, process.pid, viewers, args.phase_s)
                    (watched if viewers else idle).append(fps)
                    (watched_cpu if viewers else idle_cpu).append(cpu_ms)
                    slow = [c.frames for c in clients if c.slow]
                    fast = [c.frames for c in clients if not c.slow]
                    print(f"round {round_ + 1}, {viewers} viewers: {fps:.2f} fps, app CPU "
                          f"{cpu_ms:.0f} ms/frame" + (f" (the 1-FPS viewer read {slow[0]} "
                          f"frames, the others {min(fast)}+)" if clients else ""))
            a, b = statistics.median(idle), statistics.median(watched)
            ratio = b / a
            print(f"median: 0 viewers {a:.2f} fps, 4 viewers {b:.2f} fps, ratio {ratio:.3f} "
                  f"(goal >= 0.9: {'met' if ratio >= 0.9 else 'MISSED'}); app CPU per frame "
                  f"{statistics.median(idle_cpu):.0f} vs {statistics.median(watched_cpu):.0f} ms")
            churn(url, 50)  # warm-up: first-use allocations are not a leak
            before = rss_mb(process.pid)
            started = time.monotonic()
            churn(url, args.connects)
            after = rss_mb(process.pid)
            print(f"{args.connects} connect/disconnect in {time.monotonic() - started:.1f} s: "
                  f"RSS {before:.1f} -> {after:.1f} MB, growth {after - before:+.1f} MB "
                  f"(goal < 10 MB: {'met' if after - before < 10 else 'MISSED'})")
        finally:
            process.terminate()
            process.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
