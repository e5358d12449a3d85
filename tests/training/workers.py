"""Real multi-worker training runs on localhost: one `python -m training train` process per
worker, each with its own TF_CONFIG (ports picked free), its log in a file the test can poll."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# Below Linux's ephemeral range (32768-60999 by default): a port picked here and closed until the
# worker binds it cannot meanwhile be handed to another test's bind(0) or outgoing connection
# (seen: "Could not start gRPC server" when a parallel test took the port first).
PORT_RANGE = (20000, 32000)


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now (all held open together, so they differ), drawn at random
    from PORT_RANGE."""
    rng = random.Random()
    sockets: list[socket.socket] = []
    try:
        while len(sockets) < count:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", rng.randrange(*PORT_RANGE)))
            except OSError:  # taken: draw again
                sock.close()
                continue
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(addresses: list[str], index: int) -> str:
    return json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker",
                                                                  "index": index}})


@dataclass
class Worker:
    index: int
    process: subprocess.Popen
    log: Path
    tmp: Path  # its TMPDIR: where a worker that is not the chief writes, and must clean up

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = 600) -> None:
        """Poll the log until it holds `needle` (fails when the process ends first)."""
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.index} ended ({self.process.returncode}) "
                                     f"before {needle!r}:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker {self.index}: no {needle!r} in {timeout} s:\n"
                                     f"{self.text()[-3000:]}")
            time.sleep(0.2)

    def finish(self, timeout: float = 600) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"worker {self.index} still running after {timeout} s:\n"
                                 f"{self.text()[-3000:]}") from None


def start_workers(base: Path, outs: list[Path], config: Path, *args: str,
                  tag: str = "run") -> list[Worker]:
    """One training process per entry of `outs` (its --out), all in one cluster."""
    addresses = [f"localhost:{port}" for port in free_ports(len(outs))]
    workers = []
    for index, out in enumerate(outs):
        tmp = base / f"{tag}-tmp{index}"
        tmp.mkdir(parents=True)
        log = base / f"{tag}-worker{index}.log"
        env = {**os.environ, "TF_CONFIG": tf_config(addresses, index), "TMPDIR": str(tmp),
               "PYTHONUNBUFFERED": "1"}
        with log.open("w") as handle:
            process = subprocess.Popen(
                [sys.executable, "-m", "training", "train", "--config", str(config), "--out",
                 str(out), "--distribute", "multi_worker", *args],
                cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        workers.append(Worker(index, process, log, tmp))
    return workers


def stop_all(workers: list[Worker]) -> None:
    """Kill whatever a failed test left running (only these processes)."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()
