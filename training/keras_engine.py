"""The fp32 Keras model a bundle was converted from, behind the Engine interface: the reference
the converter's parity and `python -m training evaluate --backend keras` compare against."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from models.bundle import Bundle
from models.engines import Engine, EngineError, open_engine
from models.engines.base import check_class_count

log = logging.getLogger(__name__)

BACKENDS = ("auto", "litert", "onnx", "keras")


def open_any_engine(bundle: Bundle, backend: str = "auto", threads: int | None = None) -> Engine:
    """models.engines.open_engine, plus the keras backend that only training can run."""
    if backend == "keras":
        return KerasEngine(bundle, threads=threads)
    return open_engine(bundle, backend=backend, threads=threads)


class KerasEngine(Engine):
    backend = "keras"
    format = "keras"  # no bundle file: the fp32 checkpoint (`checkpoint`) runs

    def __init__(self, bundle: Bundle, checkpoint: str | Path | None = None,
                 config: str | Path | None = None, threads: int | None = None) -> None:
        super().__init__(bundle)
        provenance = bundle.provenance
        if checkpoint is None:  # the one the bundle was converted from, with its config
            checkpoint = provenance.get("checkpoint")
            config = config or provenance.get("config")
        if not checkpoint:
            raise EngineError(
                f"{bundle.manifest_path}: no provenance.checkpoint; the keras backend needs the "
                f"source checkpoint (pass checkpoint=...)"
            )
        from models.preprocess import backbone_preprocess, preprocess_for_mode
        from training.checkpoint import CheckpointError, read_checkpoint

        try:
            from training.framework import tf
            from training.graph import serving_function
            from training.keras_checkpoint import complete_checkpoint, load_keras_model
        except ImportError as error:
            raise EngineError(
                f"keras backend: needs TensorFlow and segmentation_models ({error})"
            ) from None
        _set_threads(tf, threads)
        try:
            source = read_checkpoint(checkpoint, config)
            model = load_keras_model(source)
            source = complete_checkpoint(source, model)
        except CheckpointError as error:
            raise EngineError(f"keras backend: {error}") from None
        check_class_count(bundle, model.output_shape[-1], Path(str(checkpoint)).name)
        mode = provenance.get("preprocess")
        preprocess = preprocess_for_mode(mode) if mode else backbone_preprocess(source.backbone)
        self.checkpoint = source.checkpoint
        self._tf = tf
        self._serve = serving_function(model, preprocess, output=bundle.output)
        log.info("keras: %s (fp32, %s preprocessing)", source.checkpoint.name, preprocess.mode)

    def _run(self, frames: np.ndarray) -> np.ndarray:
        out = self._serve(self._tf.constant(frames))
        return next(iter(out.values())).numpy()

    def close(self) -> None:
        self._serve = None


def _set_threads(tf, threads: int | None) -> None:
    if not threads:
        return
    try:  # only possible before TensorFlow's runtime has started
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        log.warning("keras: TensorFlow already running; threads=%d ignored", threads)
