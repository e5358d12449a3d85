"""Training step time under glibc's malloc vs tcmalloc (what `python -m training` now uses).

    .venv/bin/python bench/train_step.py [--config configs/camvid-scratch.yaml] [--steps 6]
        [--rounds 2]

Each measurement is a fresh process (LD_PRELOAD only works at start) that builds and compiles the
Unet as training/train.py does and times `train_on_batch` on one batch of the config's crop size
after 2 warm-up steps. The two allocators alternate, `--rounds` times each, so a busy machine
slows both alike; the ratio uses each allocator's best round.
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
    import numpy as np

    from training.config import load_config
    from training.framework import keras
    from training.losses import build_loss, build_metrics
    from training.model import build_unet

    config = load_config(config_path)
    height, width = config.train.augment.crop or (384, 480)
    batch = config.train.batch_size
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch, height, width, 3)).astype("float32")
    labels = np.eye(config.n_outputs, dtype="float32")[
        rng.integers(0, config.n_outputs, (batch, height, width))]
    model = build_unet(config)
    model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate),
                  loss=build_loss(config.train, [1.0] * config.n_outputs),
                  metrics=build_metrics())
    for _ in range(WARMUP_STEPS):
        model.train_on_batch(images, labels)
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, labels)
    seconds = (time.perf_counter() - started) / steps
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
