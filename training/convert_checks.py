"""How `python -m training convert` judges the files it wrote: pixel parity of each file's
labels with fp32 Keras, run as the app runs them (its engines, on the CPU), and with
--eval-data every file and fp32 scored on a labelled split, with the int8 mIoU drop rule."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from models.bundle import Bundle
from models.engines import Engine
from models.labels import labels_from_probabilities
from models.parity import agreement
from training.convert_plan import INT8_FORMATS, AccuracyError, ConvertOptions

log = logging.getLogger("training.convert")  # one logger for the command, whichever module


def labels_of(out: dict) -> np.ndarray:
    return labels_from_probabilities(next(iter(out.values())).numpy())


def parity_of(bundle: Bundle, fmt: str, frames: np.ndarray, reference: np.ndarray) -> float:
    """Run the file the way the app will (its engine), on the CPU."""
    if fmt == "tftrt":
        return _tftrt_parity(bundle, frames, reference)
    with _cpu_engine(bundle, fmt) as engine:
        return agreement(engine.infer(frames), reference)


def _cpu_engine(bundle: Bundle, fmt: str) -> Engine:
    from models.engines.litert import LiteRTEngine
    from models.engines.onnx import OnnxEngine

    if fmt.startswith("tflite"):
        return LiteRTEngine(bundle, fmt=fmt)
    return OnnxEngine(bundle, providers=["cpu"], fmt=fmt)


class _ServedEngine(Engine):
    """The fp32 served graph in memory behind the Engine interface (the split's reference)."""

    backend = "keras"
    format = "keras"

    def __init__(self, bundle: Bundle, serve) -> None:
        super().__init__(bundle)
        from training.framework import tf

        self._tf, self._serve = tf, serve

    def _run(self, frames: np.ndarray) -> np.ndarray:
        return np.concatenate([labels_of(self._serve(self._tf.constant(frames[i:i + 1])))
                               for i in range(len(frames))])


def split_accuracy(bundle: Bundle, split, serve) -> dict[str, Any]:
    """fp32 and every runnable file scored on the split; deltas in mIoU points against fp32."""
    from training.scoring import score_engines

    engines: dict[str, Engine] = {"fp32": _ServedEngine(bundle, serve)}
    engines.update({fmt: _cpu_engine(bundle, fmt) for fmt in bundle.files if fmt != "tftrt"})
    log.info("scoring fp32 and %s on %s %s (%d images)", ", ".join(list(engines)[1:]),
             split.root, split.name, len(split))

    def progress(done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            log.info("scored %d/%d", done, total)

    scored = score_engines(split, engines, reference="fp32", progress=progress)
    fp32 = scored["fp32"].scores
    record: dict[str, Any] = {**split.describe(), "reference": "fp32 Keras (the checkpoint)",
                              "fp32": {"miou": fp32.miou,
                                       "global_accuracy": fp32.global_accuracy}}
    for fmt, result in scored.items():
        if fmt == "fp32":
            continue
        record[fmt] = {"miou": result.scores.miou,
                       "global_accuracy": result.scores.global_accuracy,
                       "miou_delta": round(100 * (result.scores.miou - fp32.miou), 3),
                       "agreement": round(result.agreement or 0.0, 6)}
        log.info("%s: mIoU %.2f (fp32 %.2f, delta %+.2f points), labels = fp32 on %.4f of "
                 "pixels", fmt, 100 * result.scores.miou, 100 * fp32.miou,
                 record[fmt]["miou_delta"], record[fmt]["agreement"])
    for engine in engines.values():
        engine.close()
    return record


def check_miou_drop(bundle: Bundle, options: ConvertOptions, untouched: str) -> None:
    """AccuracyError when an int8 file loses more than --max-miou-drop points; `untouched` says
    what became of --out (e.g. "models/x left as it was")."""
    accuracy = bundle.accuracy
    worse = [(fmt, accuracy[fmt]["miou_delta"]) for fmt in bundle.files
             if fmt in INT8_FORMATS and fmt in accuracy
             and -accuracy[fmt]["miou_delta"] > options.max_miou_drop]
    if not worse:
        return
    what = ", ".join(f"{fmt} {delta:+.2f}" for fmt, delta in worse)
    message = (f"mIoU against fp32 on {accuracy['split']} of {accuracy['data']}: {what} points, "
               f"more than --max-miou-drop {options.max_miou_drop}")
    if options.allow_miou_drop:
        log.warning("%s; kept (--allow-miou-drop)", message)
        return
    raise AccuracyError(f"{message}; {untouched} (--allow-miou-drop writes the bundle anyway)")


def _tftrt_parity(bundle: Bundle, frames: np.ndarray, reference: np.ndarray) -> float:
    from training.framework import tf

    serve = tf.saved_model.load(str(bundle.path_of("tftrt"))).signatures["serving_default"]
    labels = [labels_of(serve(tf.constant(frames[i:i + 1]))) for i in range(len(frames))]
    return agreement(np.concatenate(labels), reference)
