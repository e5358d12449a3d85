"""The served graph: uint8 BGR frames in, uint8 labels (or float probabilities) out.

Pre-processing and the label rule (models.labels: argmax, or one sigmoid channel over 0.5) live
inside the graph so every backend (LiteRT, ONNX Runtime, Keras) takes camera frames as they come
and returns what the renderer indexes its palette with.

For int8 files the labels come from the logits before the final softmax/sigmoid: the same labels
(argmax and > 0.5 do not change under them), but an int8 softmax output has about 1/256 steps,
where near-equal classes tie and argmax then picks the first.
"""

from __future__ import annotations

from collections.abc import Callable

from models.labels import SIGMOID_THRESHOLD
from models.preprocess import Preprocess
from training.framework import keras, tf

INPUT_NAME = "frames"


def serving_function(
    model: keras.Model,
    preprocess: Preprocess,
    output: str = "labels",
    shape: tuple[int | None, int | None, int | None] = (None, None, None),
    logits: bool = False,
) -> Callable:
    """A tf.function over (N, H, W, 3) uint8 BGR; `shape` fixes (N, H, W) for export.
    `logits` (labels only): decide on the scores before the final activation when the model
    ends in a softmax/sigmoid Activation layer."""
    channels = model.output_shape[-1]
    threshold = SIGMOID_THRESHOLD
    if logits and output == "labels" and (trunk := without_final_activation(model)) is not None:
        model, threshold = trunk, 0.0  # sigmoid(x) > 0.5 exactly when x > 0
    needs_scale = any(s != 1.0 for s in preprocess.scale)
    needs_offset = any(o != 0.0 for o in preprocess.offset)

    @tf.function(input_signature=[tf.TensorSpec([*shape, 3], tf.uint8, name=INPUT_NAME)])
    def serve(frames):
        x = tf.cast(frames, tf.float32)
        if preprocess.order == "RGB":  # frames are BGR, as cameras and OpenCV deliver them
            x = tf.gather(x, [2, 1, 0], axis=-1)
        # constants made inside the function: captured ones would become extra ONNX inputs
        if needs_scale:
            x = x * tf.constant(preprocess.scale, tf.float32)
        if needs_offset:
            x = x + tf.constant(preprocess.offset, tf.float32)
        probabilities = model(x, training=False)
        if output == "probabilities":
            return {"probabilities": probabilities}
        if channels == 1:  # sigmoid: one class against the rest (the compare keeps the channel
            # axis so engines can read the class count from its input)
            labels = tf.squeeze(tf.cast(probabilities > threshold, tf.uint8), axis=-1)
        else:
            labels = tf.cast(tf.argmax(probabilities, axis=-1, output_type=tf.int32), tf.uint8)
        return {"labels": labels}

    return serve


def without_final_activation(model: keras.Model) -> keras.Model | None:
    """The model up to its last layer when that is a softmax/sigmoid Activation, else None."""
    last = model.layers[-1]
    name = getattr(getattr(last, "activation", None), "__name__", "")
    if not isinstance(last, keras.layers.Activation) or name not in ("softmax", "sigmoid"):
        return None
    return keras.Model(model.inputs, last.input)
