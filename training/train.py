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
import time
from pathlib import Path

import numpy as np

from models.errors import first_line
from training.augment import eval_transform, train_transform
from training.checks import preflight
from training.config import Config, ConfigError, dump_config
from training.datasets.common import DatasetError
from training.datasets.splits import Limited as Limited  # re-exported: evaluate uses it
from training.framework import keras, tf
from training.history import read_history, write_history_row
from training.keras_model import save_json
from training.loader import Loader
from training.losses import build_loss, build_metrics
from training.model import build_unet, preprocessing
from training.plots import plot_history
from training.targets import targets

log = logging.getLogger(__name__)
KEEP_EPOCH_CHECKPOINTS = 3


def median_frequency_weights(dataset, n_outputs: int) -> list[float]:
    """SegNet's median-frequency balancing over the training masks (void not counted)."""
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
    weights = np.divide(median, frequency, out=np.zeros_like(frequency), where=frequency > 0)
    weights = np.minimum(weights, 10.0)  # a class seen in a handful of pixels must not dominate
    return [round(float(w), 4) for w in weights]


class StopOnSignal(keras.callbacks.Callback):
    """SIGINT/SIGTERM end the epoch after the current batch; a second signal aborts at once."""

    def __init__(self):
        super().__init__()
        self.requested = False
        self.previous = {}
        self.batches = 0  # batches finished in the current epoch

    @property
    def partial_epoch(self) -> bool:
        """Stopped before the epoch's last batch (a signal during validation leaves it whole)."""
        steps = (self.params or {}).get("steps")
        return self.requested and (steps is None or self.batches < steps)

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("%s: stopping after this batch and saving state (again to abort)",
                    signal.Signals(signum).name)

    def on_train_begin(self, logs=None):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)

    def on_epoch_begin(self, epoch, logs=None):
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches = batch + 1
        if self.requested:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.requested:  # a signal after the last batch: do not start another epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


class RunState(keras.callbacks.Callback):
    """Saves model + optimizer + epoch, the epoch checkpoint, history and plots at each epoch end."""

    def __init__(self, out: Path, manager: tf.train.CheckpointManager, epoch_var: tf.Variable,
                 stopper: StopOnSignal):
        super().__init__()
        self.out, self.manager, self.epoch_var, self.stopper = out, manager, epoch_var, stopper
        self.history_path = out / "history.csv"

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
        row = {"epoch": epoch + 1, "lr": _current_lr(self.model)}
        row.update({k: float(v) for k, v in (logs or {}).items() if k != "lr"})
        write_history_row(self.history_path, row)
        plot_history(self.history_path, self.out / "history.png")


def _current_lr(model) -> float:
    lr = model.optimizer.learning_rate
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        lr = lr(model.optimizer.iterations)
    return float(keras.backend.get_value(lr))


class LogProgress(keras.callbacks.Callback):
    """When output is not a terminal (a log file), a line every `every` batches with the pace."""

    def __init__(self, every: int = 10):
        super().__init__()
        self.every = every

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.started = epoch + 1, time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            seconds = (time.monotonic() - self.started) / (batch + 1)
            log.info("epoch %d batch %d/%d: loss %.4f, %.1f s/batch", self.epoch, batch + 1,
                     self.params.get("steps") or 0, (logs or {}).get("loss", float("nan")),
                     seconds)


class Phases(keras.callbacks.Callback):
    """Switches the training crop at the epochs the config names (e.g. full size at the end)."""

    def __init__(self, config: Config, loader: Loader):
        super().__init__()
        self.config, self.loader = config, loader

    def crop_for(self, epoch: int):
        """The crop for Keras' 0-based `epoch`; `from_epoch` counts from 1, as the log does."""
        crop = self.config.train.augment.crop
        for phase in sorted(self.config.train.phases, key=lambda p: p.from_epoch):
            if epoch + 1 >= phase.from_epoch:
                crop = phase.crop
        return crop

    def on_epoch_begin(self, epoch, logs=None):
        crop = self.crop_for(epoch)
        self.loader.set_transform(train_transform(self.config.train.augment, crop,
                                                  self.config.data.input_size))
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
          datasets: tuple | None = None) -> int:
    """Train; returns 0 when all epochs ran, 130 when stopped by a signal (state saved).

    `datasets` are the (train, val) sets `training.checks.preflight` checked, if it ran already.
    """
    out.mkdir(parents=True, exist_ok=True)
    state_dir = out / "state"
    if not resume and tf.train.latest_checkpoint(str(state_dir)):
        raise ConfigError(f"{out}: a run already exists here; pass --resume or choose --out")
    if resume:
        saved = out / "config.yaml"
        if not saved.is_file():
            raise ConfigError(f"{out}: nothing to resume (no config.yaml)")
    dump_config(config, out / "config.yaml")

    keras.utils.set_random_seed(config.train.seed)
    train_set, val_set = datasets or preflight(config, limit)

    weights = config.train.class_weights
    if weights == "auto":
        weights = median_frequency_weights(train_set, config.n_outputs)
        log.info("class weights (median frequency): %s", weights)
    if weights is not None and len(weights) != config.n_outputs:
        raise ConfigError(f"train.class_weights: {len(weights)} values for "
                          f"{config.n_outputs} outputs ({', '.join(config.output_classes)})")

    batch = config.train.batch_size
    size = config.data.input_size
    prep = preprocessing(config.model.backbone)
    train_loader = Loader(train_set, batch, train_transform(config.train.augment, input_size=size),
                          prep, shuffle=True, workers=config.train.workers,
                          cache=config.data.cache, seed=config.train.seed, input_size=size)
    val_loader = Loader(val_set, min(batch, len(val_set)), eval_transform(size), prep,
                        shuffle=False, workers=config.train.workers, cache=config.data.cache,
                        input_size=size)

    model = build_unet(config)
    if config.model.init_weights and not resume:  # a resumed run restores its own state below
        load_initial_weights(model, Path(config.model.init_weights))
    steps = len(train_loader) * config.train.epochs
    lr = config.train.learning_rate
    if config.train.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            lr, decay_steps=steps, alpha=config.train.min_learning_rate / lr)
    optimizer = keras.optimizers.Adam(learning_rate=lr)
    n_classes = len(config.data.classes)
    model.compile(optimizer=optimizer, loss=build_loss(config.train, weights, n_classes),
                  metrics=build_metrics(n_classes))

    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var)
    manager = tf.train.CheckpointManager(checkpoint, str(state_dir), max_to_keep=2)
    if resume:
        if manager.latest_checkpoint is None:
            raise ConfigError(f"{state_dir}: nothing to resume (no saved state)")
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
        log.info("resumed from %s at epoch %d", manager.latest_checkpoint, int(epoch_var))
    start = int(epoch_var)
    if start >= config.train.epochs:
        log.info("already trained for %d epochs; raise --epochs to continue", start)
        return 0

    best = keras.callbacks.ModelCheckpoint(str(out / "best.weights.h5"), monitor="val_loss",
                                           save_best_only=True, save_weights_only=True)
    past = [r["val_loss"] for r in read_history(out / "history.csv") if "val_loss" in r]
    if past:
        best.best = min(past)  # a resumed run keeps the best of the earlier epochs
    stopper = StopOnSignal()
    callbacks = [
        stopper,
        Phases(config, train_loader),
        best,
        RunState(out, manager, epoch_var, stopper),
        keras.callbacks.TensorBoard(str(out / "tensorboard"), write_graph=False),
    ]
    if not sys.stdout.isatty():
        callbacks.append(LogProgress())
    try:
        model.fit(train_loader, validation_data=val_loader, epochs=config.train.epochs,
                  initial_epoch=start, callbacks=callbacks, workers=2, max_queue_size=4,
                  verbose=1 if sys.stdout.isatty() else 2)
    except Exception as error:
        found = train_loader.error or val_loader.error
        if found is None:
            raise
        raise DatasetError(str(found)) from error  # one line, not TensorFlow's traceback
    finally:
        model.save(str(out / "model.h5"), include_optimizer=False)
        save_json(model, out / "model.json")  # + any weights file: the manual's Jetson path
    if stopper.requested:
        log.warning("stopped at epoch %d; state saved in %s; continue with --resume",
                    int(epoch_var) + 1, out)
        return 130
    log.info("done: %s", out)
    return 0
