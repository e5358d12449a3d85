"""train.distribute: the tf.distribute strategy, the input each replica reads, and the few things
every worker of a multi-worker run must agree on.

Input: `strategy.distribute_datasets_from_function` calls the dataset function once per worker
(input pipeline) and hands its batches to the worker's replicas in turn; tf.distribute neither
shards nor rebatches such a dataset. Each global batch of the Loader is cut into one piece per
replica (`Loader.batch_ids`), and a worker reads only the pieces of its own replicas: an explicit
index shard, so no sample is read twice in an epoch and the replicas together see the batch one
device would.

Stopping: a signal reaches one worker; at every batch end all workers add up their "asked to
stop" flags (one scalar all-reduce), so they all stop after the same batch and save the same
state. Collectives run with a timeout (`CommunicationOptions(timeout_seconds=...)`): a worker
that dies makes the others' next collective fail within that time instead of hanging.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from models import labels
from training.cluster import Cluster
from training.config import ConfigError
from training.framework import tf
from training.loader import Loader

log = logging.getLogger(__name__)
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
               tf.errors.CancelledError, tf.errors.AbortedError)


@dataclass
class Distribution:
    strategy: tf.distribute.Strategy
    kind: str  # none | mirrored | multi_worker
    cluster: Cluster | None = None
    _agree: Callable | None = field(default=None, repr=False)

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    @property
    def devices(self) -> tuple[str, ...]:
        """This worker's replica devices (its GPUs, or its CPU)."""
        if self.kind == "none":
            return ("the default device",)
        return tuple(self.strategy.extended.worker_devices)

    @property
    def local_replicas(self) -> int:
        return len(self.devices)

    @property
    def multi_worker(self) -> bool:
        return self.kind == "multi_worker"

    @property
    def is_chief(self) -> bool:
        """The one worker that writes the run folder (always true on one machine)."""
        return self.cluster is None or self.cluster.is_chief

    def any_worker(self, flag: bool) -> bool:
        """True on every worker when `flag` is true on any; every worker must call it together."""
        if not self.multi_worker:
            return flag
        if self._agree is None:
            strategy = self.strategy

            @tf.function
            def agree(value):
                def replica():  # identity: a tensor of the replica's own device
                    return tf.distribute.get_replica_context().all_reduce(
                        tf.distribute.ReduceOp.SUM, tf.identity(value))

                return strategy.experimental_local_results(strategy.run(replica))[0]

            self._agree = agree
        return float(self._agree(tf.constant(1.0 if flag else 0.0))) > 0

    def describe(self) -> str:
        where = ", ".join(self.devices)
        if self.cluster is None:
            return f"{self.kind}: {self.replicas} replica(s) on {where}"
        return (f"multi_worker: {self.cluster.task} of {self.cluster.n_workers} workers "
                f"({'chief' if self.is_chief else 'not the chief'}), {self.replicas} replicas; "
                f"this worker's: {where}")


def make_distribution(kind: str, cluster: Cluster | None = None,
                      peer_timeout_s: float | None = None) -> Distribution:
    """The strategy for train.distribute; multi_worker needs the cluster (training.cluster).

    Create it before any other TensorFlow work: MultiWorkerMirroredStrategy starts this worker's
    gRPC server and configures the collectives, which TensorFlow allows only at start-up.
    """
    if kind == "none":
        return Distribution(tf.distribute.get_strategy(), kind)
    if kind == "mirrored":
        return Distribution(tf.distribute.MirroredStrategy(), kind)
    if cluster is None:
        raise ValueError("multi_worker needs the cluster")
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster.jobs), task_type=cluster.task_type,
        task_id=cluster.task_index, rpc_layer="grpc")
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=peer_timeout_s,
        implementation=tf.distribute.experimental.CommunicationImplementation.RING)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=resolver, communication_options=options)
    return Distribution(strategy, kind, cluster)


def check_batch(batch_size: int, replicas: int, kind: str) -> None:
    if batch_size % replicas:
        raise ConfigError(f"train.batch_size: {batch_size} does not split evenly over the "
                          f"{replicas} replicas of train.distribute {kind}; use a multiple of "
                          f"{replicas}")


def val_batch_size(batch_size: int, n_val: int, replicas: int) -> int:
    """The validation batch: the training batch or the whole split if smaller, rounded down to
    a multiple of the replicas (each replica scores an equal piece)."""
    size = min(batch_size, n_val) // replicas * replicas
    if size == 0:
        raise ConfigError(f"data.val_split: {n_val} validation samples, fewer than the "
                          f"{replicas} replicas that share each batch")
    return size


def batches(loader: Loader, strategy: tf.distribute.Strategy, epochs: Iterable[int],
            before_epoch: Callable[[int], None] | None = None):
    """Every step of `epochs` of the loader for `strategy`: each replica gets its piece of each
    global batch, and each worker reads only its replicas' pieces."""
    epochs = list(epochs)
    return strategy.distribute_datasets_from_function(
        lambda context: replica_batches(loader, context, epochs, before_epoch))


def replica_batches(loader: Loader, context: tf.distribute.InputContext, epochs: list[int],
                    before_epoch: Callable[[int], None] | None = None) -> tf.data.Dataset:
    """The dataset of one input pipeline (worker): for each step, the pieces of the global
    batch its replicas train on, in replica order (tf.distribute deals them out in turn)."""
    pieces = context.num_replicas_in_sync
    local = pieces // context.num_input_pipelines
    mine = range(context.input_pipeline_id * local, (context.input_pipeline_id + 1) * local)
    steps = len(loader)

    def generate():
        for epoch in epochs:
            if before_epoch is not None:
                before_epoch(epoch)  # read ahead of training: the epoch's own transform
            for step in range(steps):
                for piece in mine:
                    yield loader.read_batch(loader.batch_ids(epoch, step, piece, pieces), epoch)

    size = loader.batch_size // pieces
    channels = labels.output_channels(loader.n_classes) + 1
    signature = (tf.TensorSpec((size, None, None, 3), tf.float32),
                 tf.TensorSpec((size, None, None, channels), tf.float32))
    return tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2)


def lost_peer(error: Exception, timeout_s: float | None) -> str:
    """What TensorFlow's long collective error says happened, in a few words."""
    text = str(error)
    if isinstance(error, tf.errors.DeadlineExceededError):
        return (f"a collective waited more than train.collective_timeout_s ({timeout_s:g} s) "
                f"for the other workers")
    unhealthy = re.search(r"unhealthy.*?/job:(\w+)/replica:\d+/task:(\d+)", text, re.S)
    if unhealthy:
        return f"{unhealthy[1]} {unhealthy[2]} stopped sending heartbeats"
    peer = re.search(r"remote target /job:(\w+)/replica:\d+/task:(\d+)", text)
    if peer:
        return f"{peer[1]} {peer[2]} stopped answering ({_grpc_message(text)})"
    address = re.search(r"ipv4:([\d.]+:\d+)", text)
    if address:
        return f"{address[1]} stopped answering ({_grpc_message(text)})"
    return f"{type(error).__name__}: {_grpc_message(text)}"


def _grpc_message(text: str) -> str:
    found = re.search(r'grpc_message:"([^"]+)"', text) or re.search(
        r"Collective ops is aborted by: ([^\n]+)", text)
    return (found[1] if found else text.strip().splitlines()[-1])[:120]


def write_folder(out: Path, distribution: Distribution) -> Path:
    """Where this worker writes: the run folder on the chief, else a private temporary folder
    (saving reads variables the workers hold together, so every worker saves; only the chief
    keeps what it saved)."""
    if distribution.is_chief:
        return out
    return Path(tempfile.mkdtemp(prefix=f"segcam-{distribution.cluster.task.replace(' ', '')}-"))


def remove_write_folder(folder: Path, out: Path) -> None:
    if folder != out:
        shutil.rmtree(folder, ignore_errors=True)


def saved_weights_digest(path: Path) -> str:
    """A short hash of every weight in a saved Keras .h5 file, in the file's order: the same on
    every worker when the replicas agree (read back from the file: reading the model's
    variables again would be one all-reduce per BatchNorm statistic)."""
    import h5py
    import numpy as np

    digest = hashlib.sha256()
    with h5py.File(path, "r") as handle:
        group = handle.get("model_weights", handle)
        for layer in group.attrs["layer_names"]:
            weights = group[layer]
            for name in weights.attrs["weight_names"]:
                digest.update(np.asarray(weights[name]).tobytes())
    return digest.hexdigest()[:16]
