"""The fp32 Keras model the bundle was converted from: the reference, and a fallback where
TensorFlow is installed. TensorFlow is imported when this engine is opened, never before."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from app.engines.base import Engine, EngineError, check_class_count
from models.bundle import Bundle

log = logging.getLogger(__name__)


class KerasEngine(Engine):
    backend = "keras"

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
        try:
            from models.graph import serving_function
            from models.keras_source import complete_source, load_keras_model
            from models.preprocess import backbone_preprocess, preprocess_for_mode
            from models.source import SourceError, read_source
            from training.framework import tf
        except ImportError as error:
            raise EngineError(
                f"keras backend: needs TensorFlow and segmentation_models ({error})"
            ) from None
        _set_threads(tf, threads)
        try:
            source = read_source(checkpoint, config)
            model = load_keras_model(source)
            source = complete_source(source, model)
        except SourceError as error:
            raise EngineError(f"keras backend: {error}") from None
        check_class_count(bundle, model.output_shape[-1], Path(str(checkpoint)).name)
        mode = provenance.get("preprocess")
        preprocess = preprocess_for_mode(mode) if mode else backbone_preprocess(source.backbone)
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
