"""`python -m training train`: fit a Unet from a config, resumable, with every artefact on disk.

Run folder layout:
  config.yaml               the resolved config this run used
  best.weights.h5           weights with the lowest val loss so far
  checkpoints/epoch_NNN.weights.h5   the last few epochs (weights only)
  state/                    tf.train.Checkpoint of model + optimizer + epoch, for --resume
  model.h5                  the full model (no optimizer) at the end or on interruption
  model.json                its architecture (model.to_json()), for any of the weights files
  history.csv, history.png  loss and IoU per epoch
  tensorboard/              TensorBoard logs
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from models.errors import first_line
from training.augment import eval_transform, train_transform
from training.checks import preflight
from training.cluster import Cluster, read_cluster
from training.compiled import compile_for_training
from training.config import Config, ConfigError, dump_config
from training.datasets.common import DatasetError
from training.datasets.splits import Limited as Limited  # re-exported: evaluate uses it
from training.distribute import (
    PEER_ERRORS,
    Distribution,
    batches,
    check_batch,
    lost_peer,
    make_distribution,
    remove_write_folder,
    saved_weights_digest,
    val_batch_size,
    write_folder,
)
from training.framework import keras, tf
from training.history import read_history, write_history_row
from training.keras_model import save_json
from training.loader import Loader
from training.losses import build_loss, build_metrics
from training.model import preprocessing
from training.plots import plot_history
from training.precision import (
    POLICY,
    build_model,
    float32_copy,
    optimizer_for,
    precision_policy,
    wants_mixed_precision,
)
from training.progress import LogProgress, ValidationProgress
from training.targets import targets

log = logging.getLogger(__name__)
KEEP_EPOCH_CHECKPOINTS = 3


def median_frequency_weights(dataset, n_outputs: int, power: float = 1.0) -> list[float]:
    """SegNet's median-frequency balancing over the training masks (void not counted), each
    weight raised to `power` (0.5: frequent classes such as road and building keep more)."""
    counts = np.zeros(n_outputs)
    present = np.zeros(n_outputs)  # pixels of the images in which each class appears
    n_classes = len(dataset.classes)
    for i in range(len(dataset)):
        _, mask = dataset.sample_indices(i)
        per_class = targets(dataset.labels(mask), n_classes)[..., :-1].sum(axis=(0, 1))
        counts += per_class
        present += (per_class > 0) * per_class.sum()
    frequency = np.divide(counts, present, out=np.zeros_like(counts), where=present > 0)
    median = np.median(frequency[frequency > 0])
    ratio = np.divide(median, frequency, out=np.ones_like(frequency), where=frequency > 0)
    # capped: a class seen in a handful of pixels must not dominate; a class never seen weighs 0
    weights = np.where(frequency > 0, np.minimum(ratio**power, 10.0), 0.0)
    return [round(float(w), 4) for w in weights]


class StopOnSignal(keras.callbacks.Callback):
    """SIGINT/SIGTERM end the epoch after the current batch; a second signal aborts at once.

    `agree` turns this worker's "asked to stop" into the cluster's (training.distribute: every
    worker calls it at the same batch ends, so all of them stop after the same batch).
    """

    def __init__(self, agree: Callable[[bool], bool] | None = None):
        super().__init__()
        self.signalled = False  # a signal reached this process
        self.requested = False  # some worker (this one on one machine) was asked to stop
        self.agree = agree or (lambda flag: flag)
        self.previous = {}
        self.batches = 0  # batches finished in the current epoch

    @property
    def partial_epoch(self) -> bool:
        """Stopped before the epoch's last batch (a signal during validation leaves it whole)."""
        steps = (self.params or {}).get("steps")
        return self.requested and (steps is None or self.batches < steps)

    def _handle(self, signum, frame):
        if self.signalled:
            raise KeyboardInterrupt
        self.signalled = True
        log.warning("%s: stopping after this batch and saving state (again to abort)",
                    signal.Signals(signum).name)

    def _check(self) -> None:
        if not self.requested and self.agree(self.signalled):
            self.requested = True
            if not self.signalled:
                log.warning("another worker was asked to stop: stopping after this batch and "
                            "saving state")

    def on_train_begin(self, logs=None):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)

    def on_epoch_begin(self, epoch, logs=None):
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches = batch + 1
        self._check()
        if self.requested:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self._check()
        if self.requested:  # a signal after the last batch: do not start another epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


class RunState(keras.callbacks.Callback):
    """Saves model + optimizer + epoch, the epoch checkpoint, history and plots at each epoch end."""

    def __init__(self, out: Path, manager: tf.train.CheckpointManager, epoch_var: tf.Variable,
                 stopper: StopOnSignal, chief: bool = True):
        super().__init__()
        self.out, self.manager, self.epoch_var, self.stopper = out, manager, epoch_var, stopper
        self.history_path = out / "history.csv"
        self.chief = chief  # the others save too (the saves read shared variables), unkept

    def on_epoch_end(self, epoch, logs=None):
        if self.stopper.partial_epoch:  # keep its weights, redo the epoch on --resume
            self.epoch_var.assign(epoch)
            self.manager.save()
            return
        self.epoch_var.assign(epoch + 1)
        self.manager.save()
        checkpoints = self.out / "checkpoints"
        checkpoints.mkdir(exist_ok=True)
        self.model.save_weights(str(checkpoints / f"epoch_{epoch + 1:03d}.weights.h5"))
        for old in sorted(checkpoints.glob("epoch_*.weights.h5"))[:-KEEP_EPOCH_CHECKPOINTS]:
            old.unlink()
        if not self.chief:
            return
        row = {"epoch": epoch + 1, "lr": _current_lr(self.model)}
        row.update({k: float(v) for k, v in (logs or {}).items() if k != "lr"})
        write_history_row(self.history_path, row)
        plot_history(self.history_path, self.out / "history.png")


def _current_lr(model) -> float:
    lr = model.optimizer.learning_rate
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        lr = lr(model.optimizer.iterations)
    return float(keras.backend.get_value(lr))


class Phases(keras.callbacks.Callback):
    """The training crop of each epoch, from the phases the config names (e.g. full size at the
    end): the input pipeline switches the loader's transform when it starts reading an epoch
    (`start_epoch`, ahead of the step that trains on it), and the log says so when it begins."""

    def __init__(self, config: Config, loader: Loader | None):
        super().__init__()
        self.config, self.loader = config, loader

    def crop_for(self, epoch: int):
        """The crop for Keras' 0-based `epoch`; `from_epoch` counts from 1, as the log does."""
        crop = self.config.train.augment.crop
        for phase in sorted(self.config.train.phases, key=lambda p: p.from_epoch):
            if epoch + 1 >= phase.from_epoch:
                crop = phase.crop
        return crop

    def start_epoch(self, epoch: int) -> None:
        self.loader.set_transform(train_transform(self.config.train.augment,
                                                  self.crop_for(epoch),
                                                  self.config.data.input_size))

    def on_epoch_begin(self, epoch, logs=None):
        crop = self.crop_for(epoch)
        log.info("epoch %d: training crop %s", epoch + 1, "full image" if crop is None else crop)


def load_initial_weights(model, path: Path) -> None:
    """Start from a checkpoint of an earlier run (a second schedule, or fine-tuning)."""
    if not path.is_file():
        raise ConfigError(f"model.init_weights: {path}: no such file")
    try:
        model.load_weights(str(path))
    except OSError as error:  # h5py: not an HDF5 file at all
        raise ConfigError(f"model.init_weights: {path} is not a Keras weights file "
                          f"(.weights.h5): {first_line(error)}") from None
    except ValueError as error:  # Keras names the first layer whose shapes differ
        raise ConfigError(f"model.init_weights: {path} does not fit this model: "
                          f"{first_line(error)}") from None
    log.info("initial weights from %s", path)


def train(config: Config, out: Path, resume: bool = False, limit: int | None = None,
          datasets: tuple | None = None, cluster: Cluster | None = None) -> int:
    """Train; returns 0 when all epochs ran, 130 when stopped by a signal (state saved).

    `datasets` are the (train, val) sets `training.checks.preflight` checked, if it ran already;
    `cluster` the TF_CONFIG cluster of a multi_worker run (read here when not given).
    """
    kind = config.train.distribute
    if kind == "multi_worker" and cluster is None:
        cluster = read_cluster()
    worker = "" if cluster is None else f" ({cluster.task})"
    state_dir = out / "state"
    if not resume and tf.train.latest_checkpoint(str(state_dir)):
        raise ConfigError(f"{out}: a run already exists here; pass --resume or choose --out")
    if resume and not (out / "config.yaml").is_file():
        raise ConfigError(f"{out}: nothing to resume (no config.yaml){worker}"
                          + (SHARED_HINT if cluster else ""))
    # first TensorFlow work of the run: a multi-worker strategy must come before any other
    distribution = make_distribution(kind, cluster, config.train.collective_timeout_s)
    log.info("distribute %s", distribution.describe())
    mixed = wants_mixed_precision(config.train.mixed_precision)
    check_batch(config.train.batch_size, distribution.replicas, kind)
    if distribution.is_chief:
        out.mkdir(parents=True, exist_ok=True)
        dump_config(config, out / "config.yaml")
    folder = write_folder(out, distribution)
    try:
        with precision_policy(mixed):
            return _fit(config, out, folder, distribution, mixed, resume, limit, datasets)
    finally:
        remove_write_folder(folder, out)


SHARED_HINT = ("; every worker's --out must be the chief's run folder (shared storage) to "
               "resume")


def _fit(config: Config, out: Path, folder: Path, distribution: Distribution, mixed: bool,
         resume: bool, limit: int | None, datasets: tuple | None) -> int:
    """The run itself: `out` is the run folder, `folder` where this worker writes (the same
    on the chief, a temporary one on the others)."""
    keras.utils.set_random_seed(config.train.seed)
    train_set, val_set = datasets or preflight(config, limit)

    weights = config.train.class_weights
    if weights == "auto":
        log.info("class weights: counting the pixels of %d training masks", len(train_set))
        power = config.train.class_weight_power
        weights = median_frequency_weights(train_set, config.n_outputs, power)
        log.info("class weights (median frequency, power %g): %s", power, weights)
    if weights is not None and len(weights) != config.n_outputs:
        raise ConfigError(f"train.class_weights: {len(weights)} values for "
                          f"{config.n_outputs} outputs ({', '.join(config.output_classes)})")

    batch = config.train.batch_size
    replicas = distribution.replicas
    size = config.data.input_size
    prep = preprocessing(config.model.backbone)
    train_loader = Loader(train_set, batch, train_transform(config.train.augment, input_size=size),
                          prep, shuffle=True, workers=config.train.workers,
                          cache=config.data.cache, seed=config.train.seed, input_size=size)
    val_loader = Loader(val_set, val_batch_size(batch, len(val_set), replicas),
                        eval_transform(size), prep, shuffle=False, workers=config.train.workers,
                        cache=config.data.cache, input_size=size)
    if replicas > 1:
        used = len(train_loader) * batch  # an epoch's samples (the last partial batch dropped)
        log.info("global batch %d: %d images per replica; this worker reads %d of the %d "
                 "training samples of an epoch", batch, batch // replicas,
                 used * distribution.local_replicas // replicas, used)

    strategy = distribution.strategy
    steps = len(train_loader) * config.train.epochs
    with strategy.scope():
        model = build_model(config, mixed)
        if config.model.init_weights and not resume:  # a resumed run restores its state below
            load_initial_weights(model, Path(config.model.init_weights))
        lr = config.train.learning_rate
        if config.train.lr_schedule == "cosine":
            lr = keras.optimizers.schedules.CosineDecay(
                lr, decay_steps=steps, alpha=config.train.min_learning_rate / lr)
        optimizer = optimizer_for(keras.optimizers.Adam(learning_rate=lr), mixed)
        n_classes = len(config.data.classes)
        compile_for_training(model, optimizer, build_loss(config.train, weights, n_classes),
                             build_metrics(n_classes), n_classes)
    if mixed:
        log.info("mixed precision: %s compute, float32 weights and output, loss scaled",
                 POLICY)

    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var)
    manager = tf.train.CheckpointManager(checkpoint, str(folder / "state"), max_to_keep=2)
    if resume:
        latest = tf.train.latest_checkpoint(str(out / "state"))  # the chief's, on every worker
        if latest is None:
            raise ConfigError(f"{out / 'state'}: nothing to resume (no saved state)"
                              + (SHARED_HINT if distribution.multi_worker else ""))
        checkpoint.restore(latest).expect_partial()
        log.info("resumed from %s at epoch %d", latest, int(epoch_var))
    start = int(epoch_var)
    if start >= config.train.epochs:
        log.info("already trained for %d epochs; raise --epochs to continue", start)
        return 0

    best = keras.callbacks.ModelCheckpoint(str(folder / "best.weights.h5"), monitor="val_loss",
                                           save_best_only=True, save_weights_only=True)
    past = [r["val_loss"] for r in read_history(out / "history.csv") if "val_loss" in r]
    if past:
        best.best = min(past)  # a resumed run keeps the best of the earlier epochs
    stopper = StopOnSignal(distribution.any_worker)
    phases = Phases(config, train_loader)
    callbacks = [
        stopper,
        phases,
        best,
        RunState(folder, manager, epoch_var, stopper, chief=distribution.is_chief),
        keras.callbacks.TensorBoard(str(folder / "tensorboard"), write_graph=False),
        ValidationProgress(len(val_loader)),
    ]
    if not sys.stdout.isatty():
        callbacks.append(LogProgress())
    train_data = batches(train_loader, strategy, range(start, config.train.epochs),
                         before_epoch=phases.start_epoch)
    val_data = batches(val_loader, strategy, [0])
    lost = False
    try:
        model.fit(train_data, steps_per_epoch=len(train_loader), validation_data=val_data,
                  validation_steps=len(val_loader), epochs=config.train.epochs,
                  initial_epoch=start, callbacks=callbacks,
                  verbose=1 if sys.stdout.isatty() else 2)
    except Exception as error:
        found = train_loader.error or val_loader.error
        if found is not None:
            raise DatasetError(str(found)) from error  # one line, not TensorFlow's traceback
        if distribution.multi_worker and isinstance(error, PEER_ERRORS):
            lost = True
            reason = lost_peer(error, config.train.collective_timeout_s)
            raise WorkerLost(f"{distribution.cluster.task}: lost the other workers ({reason}); "
                             f"the last saved state is in {out / 'state'}: rerun every worker "
                             f"with --resume") from None
        raise
    finally:
        if not lost:  # saving reads variables all workers hold: not without the others
            final = float32_copy(config, model) if mixed else model
            final.save(str(folder / "model.h5"), include_optimizer=False)
            save_json(final, folder / "model.json")  # + any weights file: the manual's Jetson path
    if distribution.multi_worker:
        log.info("%s: weights sha256 %s", distribution.cluster.task,
                 saved_weights_digest(folder / "model.h5"))
    if stopper.requested:
        log.warning("stopped at epoch %d; state saved in %s; continue with --resume",
                    int(epoch_var) + 1, out)
        return 130
    log.info("done: %s", out)
    return 0


class WorkerLost(RuntimeError):
    """A multi-worker run lost a worker (or the link to it); one line, the state is saved."""

