"""Training step time under glibc's malloc vs tcmalloc (what `python -m training` now uses).

    .venv/bin/python bench/train_step.py [--config configs/camvid-scratch.yaml] [--steps 6]
        [--rounds 2]

Each measurement is a fresh process (LD_PRELOAD only works at start) that builds the data set,
Loader and Unet as training/train.py does and times `fit` steps (the Loader's threads making the
batches) after 2 warm-up steps; it needs the config's data set (CamVid for the default). The two
allocators alternate, `--rounds` times each, so a busy machine slows both alike; the ratio uses
each allocator's best round.
Needs Debian's libtcmalloc-minimal4 (`scripts/system-deps.sh train`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WARMUP_STEPS = 2


def child(config_path: str, steps: int) -> None:
    """Time `fit` steps as training/train.py runs them: the Loader's threads feed real batches."""
    from training.augment import train_transform
    from training.config import load_config
    from training.datasets import open_dataset
    from training.framework import keras
    from training.loader import Loader
    from training.losses import build_loss, build_metrics
    from training.model import build_unet, preprocessing

    config = load_config(config_path)
    batch = config.train.batch_size
    train_set = open_dataset(config.data, config.data.train_split)
    loader = Loader(train_set, batch, train_transform(config.train.augment),
                    preprocessing(config.model.backbone), shuffle=True,
                    workers=config.train.workers, cache=config.data.cache, seed=config.train.seed)
    model = build_unet(config)
    model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate),
                  loss=build_loss(config.train, [1.0] * config.n_outputs),
                  metrics=build_metrics())

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, index, logs=None):
            if index == WARMUP_STEPS - 1:
                self.started = time.perf_counter()

    clock = Clock()
    model.fit(loader, epochs=1, steps_per_epoch=WARMUP_STEPS + steps, callbacks=[clock],
              workers=2, max_queue_size=4, verbose=0)
    seconds = (time.perf_counter() - clock.started) / steps
    height, width = config.train.augment.crop or (384, 480)
    print(json.dumps({"s_per_batch": seconds, "batch": batch, "size": [height, width]}))


def measure(config: str, steps: int, preload: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if preload:
        env["LD_PRELOAD"] = preload
    result = subprocess.run([sys.executable, __file__, "--child", "--config", config,
                             "--steps", str(steps)], env=env, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        sys.exit(f"measurement failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "camvid-scratch.yaml"))
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.config, args.steps)
        return 0
    from training.allocator import tcmalloc_library

    library = tcmalloc_library()
    if library is None:
        print("libtcmalloc-minimal4 is not installed (scripts/system-deps.sh train)",
              file=sys.stderr)
        return 1
    print(f"config {args.config}; {args.steps} steps after {WARMUP_STEPS} warm-up, "
          f"{args.rounds} rounds; cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    results: dict[str, list[float]] = {"glibc": [], "tcmalloc": []}
    for round_ in range(1, args.rounds + 1):
        for name, preload in (("glibc", None), ("tcmalloc", str(library))):
            row = measure(args.config, args.steps, preload)
            results[name].append(row["s_per_batch"])
            print(f"round {round_} {name:9s} {row['s_per_batch']:6.2f} s per batch of "
                  f"{row['batch']} at {row['size'][0]}x{row['size'][1]}", flush=True)
    glibc, tcmalloc = min(results["glibc"]), min(results["tcmalloc"])
    print(f"best: glibc {glibc:.2f} s, tcmalloc {tcmalloc:.2f} s -> tcmalloc is "
          f"{glibc / tcmalloc:.2f}x faster per step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
