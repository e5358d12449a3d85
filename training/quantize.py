"""int8 model files: full-integer post-training quantization, calibrated on training images.

Both writers take the same served graph as the fp16 ones (uint8 BGR frames in, uint8 labels out,
pre-processing and argmax inside) and the same calibration frames: training images letterboxed
into the input as the app letterboxes camera frames. The sample is drawn with a fixed seed from
the sorted file list, so the same flags give the same calibration set (and the same file).

- tflite-int8: the TFLite converter with a representative data set and int8 builtins only, so
  every convolution runs on int8 weights and activations (XNNPACK's int8 kernels on the CPU).
- onnx-int8: onnxruntime.quantization.quantize_static in QDQ form with symmetric int8 weights
  (per channel) and activations, the form TensorRT builds int8 engines from.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from models.letterbox import Letterbox
from models.parity import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

DEFAULT_COUNT = 200
DEFAULT_SEED = 0
SCHEMES = {
    "tflite-int8": "TFLite full-integer PTQ: int8 weights (per channel) and activations, "
                   "uint8 frames in, uint8 labels out",
    "onnx-int8": "onnxruntime quantize_static, QDQ, symmetric int8 weights (per channel) and "
                 "activations, MinMax calibration",
}


class CalibrationError(ValueError):
    """--calibration names no usable images; one line, exit status 2."""


@dataclass(frozen=True)
class CalibrationSet:
    spec: str
    paths: tuple[Path, ...]
    available: int
    seed: int

    def record(self) -> dict[str, Any]:
        """What the manifest keeps: enough to know (and redo) which images calibrated it."""
        names = "\n".join(p.name for p in self.paths).encode()
        return {"images": self.spec, "available": self.available, "used": len(self.paths),
                "seed": self.seed, "names_sha256": hashlib.sha256(names).hexdigest(),
                "first": [p.name for p in self.paths[:3]]}


def calibration_set(spec: str, count: int = DEFAULT_COUNT,
                    seed: int = DEFAULT_SEED) -> CalibrationSet:
    """`count` images drawn with `seed` from a folder or glob (all of them when fewer)."""
    if count <= 0:
        raise CalibrationError(f"--calibration-count: must be positive, got {count}")
    root = Path(spec).expanduser()
    found = list(root.iterdir()) if root.is_dir() else [Path(p) for p in glob.glob(str(root))]
    paths = sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise CalibrationError(f"--calibration: no images in {spec!r}")
    if len(paths) > count:
        picked = np.random.default_rng(seed).choice(len(paths), size=count, replace=False)
        chosen = tuple(paths[i] for i in sorted(picked))
    else:
        chosen = tuple(paths)
    for path in chosen:  # now, not minutes into the export (reads the signature only)
        if not cv2.haveImageReader(str(path)):
            raise CalibrationError(f"{path}: not a readable image (--calibration)")
    return CalibrationSet(spec, chosen, len(paths), seed)


def calibration_frames(calibration: CalibrationSet, height: int,
                       width: int) -> Callable[[], Iterator[np.ndarray]]:
    """A re-startable source of (1, H, W, 3) uint8 BGR frames, read one at a time."""
    def frames() -> Iterator[np.ndarray]:
        letterbox = Letterbox(height, width)
        for path in calibration.paths:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise CalibrationError(f"{path}: not a readable image")
            canvas, _ = letterbox.fit(image)
            yield canvas[None].copy()  # the canvas is reused by the next fit

    return frames


def export_tflite_int8(serve: Callable, path: Path,
                       frames: Callable[[], Iterator[np.ndarray]]) -> None:
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    from training.framework import tf

    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([frame] for frame in frames())
        # int8 builtins only: an op without an int8 kernel is an error, not a silent float op
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        with warnings.catch_warnings():  # "statistics for quantized inputs": uint8 is no float
            warnings.simplefilter("ignore", UserWarning)
            path.write_bytes(converter.convert())
    finally:
        absl.setLevel(level)


def export_onnx_int8(serve: Callable, path: Path, metadata: dict[str, str],
                     frames: Callable[[], Iterator[np.ndarray]]) -> None:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from training.export import fp32_onnx

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._frames = frames()

        def get_next(self) -> dict[str, np.ndarray] | None:
            frame = next(self._frames, None)
            return None if frame is None else {input_name: frame}

    with tempfile.TemporaryDirectory(prefix="segcam-int8-") as tmp:
        fp32, ready = Path(tmp) / "fp32.onnx", Path(tmp) / "fp32-prepared.onnx"
        model = fp32_onnx(serve)
        input_name = model.graph.input[0].name
        onnx.save(model, str(fp32))
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.WARNING)  # the quantizer logs a line per tensor to the root logger
        try:
            quant_pre_process(str(fp32), str(ready), skip_symbolic_shape=True)
            quantize_static(
                str(ready), str(path), Reader(), quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
                extra_options={"ActivationSymmetric": True, "WeightSymmetric": True,
                               # merge the collected ranges every 16 frames: bounded memory
                               "CalibMaxIntermediateOutputs": 16},
            )
        finally:
            root.setLevel(level)
    quantized = onnx.load(str(path))
    del quantized.metadata_props[:]
    for key, value in metadata.items():
        quantized.metadata_props.add(key=key, value=value)
    onnx.save(quantized, str(path))
