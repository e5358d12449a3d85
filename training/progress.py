"""Progress lines during `python -m training train`: Keras' own bar covers the training batches
on a terminal only, and nothing covers validation, which takes tens of seconds on a CPU."""

from __future__ import annotations

import logging
import sys
import time

from training.framework import keras

log = logging.getLogger("training.train")


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


class ValidationProgress(keras.callbacks.Callback):
    """A line every `every` validation batches and at the last one, on a terminal too (Keras'
    bar stops at the last training batch while validation runs)."""

    def __init__(self, steps: int, every: int = 5, terminal: bool | None = None):
        super().__init__()
        self.steps, self.every = steps, max(1, every)
        self.terminal = sys.stdout.isatty() if terminal is None else terminal
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_test_begin(self, logs=None):
        self.started = time.monotonic()
        if self.terminal:  # end the line Keras' bar is still on
            sys.stdout.write("\n")
            sys.stdout.flush()

    def on_test_batch_end(self, batch, logs=None):
        done = batch + 1
        if done % self.every == 0 or done == self.steps:
            seconds = (time.monotonic() - self.started) / done
            log.info("epoch %d validation batch %d/%d, %.1f s/batch", self.epoch, done,
                     self.steps, seconds)
