"""An untrained Unet saved like a training run (weights + config.yaml), for tests and benchmarks.

Random initial weights are enough to measure speed and fp16-vs-fp32 agreement; no ImageNet
weights are downloaded.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from training.config import DEFAULT_DECODER_FILTERS


def make_scratch_checkpoint(
    folder: str | Path,
    classes: list[str],
    backbone: str = "mobilenetv2",
    decoder_filters: tuple[int, ...] = DEFAULT_DECODER_FILTERS,
    input_size: tuple[int, int] | None = None,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write folder/config.yaml and folder/scratch.weights.h5; returns (weights, config)."""
    from training.framework import tf
    from training.model import unet

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(seed)
    model = unet(backbone, len(classes), decoder_filters=decoder_filters)
    weights = folder / "scratch.weights.h5"
    model.save_weights(str(weights))
    data: dict = {"dataset": "synthetic", "root": ".", "classes": list(classes)}
    if input_size:
        data["input_size"] = list(input_size)
    config = {
        "name": folder.name,
        "data": data,
        "model": {"backbone": backbone, "decoder_filters": list(decoder_filters),
                  "activation": None, "encoder_weights": None},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return weights, path
