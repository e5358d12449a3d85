"""Samples per second the training loader delivers (with augmentation) vs one training step.

    .venv/bin/python bench/loader.py [--config configs/camvid-scratch.yaml] [--batches N]

The data set, the Loader (train augmentation, the backbone's preprocessing, workers, cache) and
the compiled Unet are built as training/train.py builds them. Measured in one run, one after
the other (a busy machine slows both alike):
  1. the loader alone, `loader[i]` for N batches: a cold pass (with `data.cache` the PNGs are
     decoded here, as in the first epoch) and then a warm pass over the same batches (served
     from the RAM cache, as in every later epoch);
  2. `model.train_on_batch` on batches the loader made (same shape), 2 warm-up steps first.
Goal (the issue): the loader at least 3x faster than the step, so training never waits on data.
The goal line uses the warm pass (the steady state); the cold pass is reported beside it.
Without the data set on disk, a generated CamVid-layout tree (random 360x480 scenes) stands in
and the output says so. class_weights "auto" uses ones (same cost as any weights; computing the
real ones would decode the whole split first).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL = 3.0
WARMUP_STEPS = 2


def generated_camvid(folder: Path, n_train: int) -> Path:
    """A CamVid-layout tree of real PNGs at CamVid's size (tests/training/conftest.py's writer)."""
    sys.path.insert(0, str(ROOT / "tests" / "training"))
    from conftest import write_tiny_camvid

    return write_tiny_camvid(folder / "CamVid", n_train=n_train, n_val=2, size=(360, 480))


def rate(samples: int, seconds: float) -> float:
    return samples / max(seconds, 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "camvid-scratch.yaml"))
    parser.add_argument("--batches", type=int, default=6, help="batches per measurement (default 6)")
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error("--batches must be >= 1")
    started = time.monotonic()

    from training.augment import train_transform
    from training.config import load_config
    from training.datasets import open_dataset
    from training.framework import keras
    from training.loader import Loader
    from training.losses import build_loss, build_metrics
    from training.model import build_unet, preprocessing

    config = load_config(args.config)
    batch = config.train.batch_size
    tmp = None
    if config.data.dataset == "camvid" and not (Path(config.data.root) / "train").is_dir():
        tmp = tempfile.TemporaryDirectory(prefix="bench-loader-")
        missing = config.data.root
        config.data.root = str(generated_camvid(Path(tmp.name), batch * args.batches))
        print(f"NOTE: {missing} not found; using a GENERATED CamVid-layout tree "
              f"({batch * args.batches} random 360x480 PNG pairs) in {config.data.root}")

    train_set = open_dataset(config.data, config.data.train_split)
    prep = preprocessing(config.model.backbone)
    loader = Loader(train_set, batch, train_transform(config.train.augment), prep, shuffle=True,
                    workers=config.train.workers, cache=config.data.cache,
                    seed=config.train.seed)
    n = min(args.batches, len(loader))
    crop = config.train.augment.crop
    print(f"config {args.config}")
    print(f"data   {config.data.root}{' (GENERATED stand-in)' if tmp else ''}: "
          f"{len(train_set)} train samples, batch {batch}, "
          f"crop {'full image' if crop is None else f'{crop[0]}x{crop[1]}'}, "
          f"workers {config.train.workers}, cache {config.data.cache}; {n} batches per pass")
    print(f"cpus   {os.cpu_count()} (load average {os.getloadavg()[0]:.1f} at start)")

    # 1. the loader alone: cold (decoding PNGs, filling the cache), then warm (same batches).
    passes: dict[str, float] = {}
    batches = []
    for name in ("cold", "warm"):
        t0 = time.perf_counter()
        made = [loader[i] for i in range(n)]
        passes[name] = rate(n * batch, time.perf_counter() - t0)
        batches = made
    images, masks = batches[0]
    print(f"batch  images {images.shape} {images.dtype}, masks {masks.shape} {masks.dtype}")

    # 2. the training step, compiled as train.py compiles it.
    weights = config.train.class_weights
    if weights == "auto":
        weights = [1.0] * config.n_outputs
    model = build_unet(config)
    lr = config.train.learning_rate
    if config.train.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            lr, decay_steps=len(loader) * config.train.epochs,
            alpha=config.train.min_learning_rate / lr)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr),
                  loss=build_loss(config.train, weights), metrics=build_metrics())
    t0 = time.perf_counter()
    for i in range(WARMUP_STEPS):
        model.train_on_batch(*batches[i % len(batches)])
    warmup = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(n):
        model.train_on_batch(*batches[i % len(batches)])
    step = rate(n * batch, time.perf_counter() - t0)

    print()
    print(f"loader cold (decode + augment): {passes['cold']:8.1f} samples/s  "
          f"({batch / passes['cold']:.2f} s/batch)")
    print(f"loader warm (cache + augment):  {passes['warm']:8.1f} samples/s  "
          f"({batch / passes['warm']:.2f} s/batch)")
    print(f"train_on_batch:                 {step:8.1f} samples/s  "
          f"({batch / step:.2f} s/batch; {WARMUP_STEPS} warm-up steps took {warmup:.1f} s)")
    print(f"ratio loader/step: warm {passes['warm'] / step:.1f}x, cold {passes['cold'] / step:.1f}x")
    print(f"goal loader >= {GOAL:g}x the step (warm, every epoch after the first): "
          f"{'met' if passes['warm'] / step >= GOAL else 'MISSED'}")
    print(f"     cold (first epoch, decoding): "
          f"{'met' if passes['cold'] / step >= GOAL else 'MISSED'}")
    print(f"total {time.monotonic() - started:.0f} s")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
