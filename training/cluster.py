"""The cluster of a multi-worker run, read from TF_CONFIG before TensorFlow loads.

TF_CONFIG is the JSON TensorFlow's MultiWorkerMirroredStrategy reads, e.g.

    {"cluster": {"worker": ["hostA:12345", "hostB:12345"]}, "task": {"type": "worker", "index": 0}}

Every worker gets the same `cluster` and its own `task`. The chief (the one worker that writes the
run folder) is the `chief` task when the cluster has one, else worker 0, as TensorFlow decides.
Any mistake is a ConfigError naming TF_CONFIG, so it is one line before a minute of start-up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from models.settings_file import ConfigError

ENV = "TF_CONFIG"
JOBS = ("chief", "worker")  # the task types MultiWorkerMirroredStrategy trains with
EXAMPLE = ('{"cluster": {"worker": ["hostA:12345", "hostB:12345"]}, '
           '"task": {"type": "worker", "index": 0}}')


@dataclass(frozen=True)
class Cluster:
    jobs: dict[str, list[str]]  # task type -> "host:port" of each task
    task_type: str
    task_index: int

    @property
    def n_workers(self) -> int:
        return sum(len(addresses) for addresses in self.jobs.values())

    @property
    def is_chief(self) -> bool:
        if "chief" in self.jobs:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.task_index == 0

    @property
    def task(self) -> str:
        """`worker 1`, `chief 0`: how log lines name this worker."""
        return f"{self.task_type} {self.task_index}"


def read_cluster(environ: Mapping[str, str] | None = None) -> Cluster:
    """The cluster and this worker's task from TF_CONFIG; ConfigError when it is unset or wrong."""
    text = (os.environ if environ is None else environ).get(ENV)
    if text is None or not text.strip():
        raise ConfigError(f"{ENV} is not set: train.distribute multi_worker reads the cluster "
                          f"and this worker's task from it, e.g. {ENV}='{EXAMPLE}'")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{ENV}: not valid JSON ({error})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{ENV}: expected a JSON object with cluster and task, e.g. {EXAMPLE}")
    jobs = _jobs(raw.get("cluster"))
    task = raw.get("task")
    if not isinstance(task, dict):
        raise ConfigError(f"{ENV}: missing task (this worker's {{\"type\": ..., \"index\": ...}})")
    task_type, index = task.get("type"), task.get("index")
    if task_type not in jobs:
        raise ConfigError(f"{ENV}: task.type {task_type!r} is not a job of the cluster "
                          f"({', '.join(jobs)})")
    if not isinstance(index, int) or isinstance(index, bool):
        raise ConfigError(f"{ENV}: task.index must be an integer, got {index!r}")
    count = len(jobs[task_type])
    if not 0 <= index < count:
        raise ConfigError(f"{ENV}: task.index {index} is out of range: cluster.{task_type} has "
                          f"{count} address{'es' if count != 1 else ''} (0..{count - 1})")
    return Cluster(jobs, task_type, index)


def _jobs(cluster: object) -> dict[str, list[str]]:
    if not isinstance(cluster, dict) or not cluster:
        raise ConfigError(f"{ENV}: missing cluster (the address of every worker), e.g. {EXAMPLE}")
    jobs: dict[str, list[str]] = {}
    for job, addresses in cluster.items():
        if job not in JOBS:
            raise ConfigError(f"{ENV}: cluster.{job}: multi_worker trains with chief and worker "
                              f"tasks only")
        if not isinstance(addresses, list) or not addresses:
            raise ConfigError(f"{ENV}: cluster.{job}: expected a list of \"host:port\"")
        for address in addresses:
            _check_address(address, f"cluster.{job}")
        jobs[job] = list(addresses)
    if len(jobs.get("chief", [])) > 1:
        raise ConfigError(f"{ENV}: cluster.chief: at most one chief")
    every = [a for addresses in jobs.values() for a in addresses]
    repeated = sorted({a for a in every if every.count(a) > 1})
    if repeated:
        raise ConfigError(f"{ENV}: {repeated[0]} is given to more than one task")
    return jobs


def _check_address(address: object, where: str) -> None:
    host, _, port = str(address).rpartition(":")
    if not isinstance(address, str) or not host or not port.isdigit() or \
            not 0 < int(port) < 65536:
        raise ConfigError(f"{ENV}: {where}: {address!r} is not \"host:port\"")
