"""Writing the served graph as fp16 model files: TFLite, ONNX and (where TF has it) TF-TRT.
The int8 files are training/quantize.py's."""

from __future__ import annotations

import logging
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

from training.framework import tf

log = logging.getLogger(__name__)

ONNX_OPSET = 17


def export_tflite(serve: Callable, path: Path) -> None:
    """fp16 weights, fp32 compute on CPU (XNNPACK), fixed input shape from the signature."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    # Freezing first skips the converter's SavedModel round trip, which traces every Keras
    # layer (about 40 s for a small Unet against 3 s frozen).
    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # it asks for a trackable_obj, which is what freezing avoids
    try:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
        path.write_bytes(converter.convert())
    finally:
        absl.setLevel(level)


def export_onnx(serve: Callable, path: Path, metadata: dict[str, str]) -> None:
    """tf2onnx at opset 17, then float16 with the uint8 input and label output kept as they are."""
    import onnx
    from onnxconverter_common import float16

    model = fp32_onnx(serve)
    # The converter would retype the uint8->float Cast's output and the ArgMax input to float16
    # without changing the ops, which onnxruntime then refuses: keep those nodes in fp32.
    keep = [node.name for node in model.graph.node if node.op_type in ("Cast", "ArgMax", "Greater")]
    with warnings.catch_warnings():  # one warning per weight under 1e-7, which fp16 cannot hold
        warnings.simplefilter("ignore", UserWarning)
        model = float16.convert_float_to_float16(model, keep_io_types=True, node_block_list=keep)
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def fp32_onnx(serve: Callable):
    """The served graph as an fp32 ONNX ModelProto (tf2onnx at opset 17)."""
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.WARNING)  # one line per step is ours to log
    spec = serve.input_signature
    model, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=ONNX_OPSET)
    _plain_nearest_resize(model)
    return model


def _plain_nearest_resize(model) -> None:
    """tf2onnx writes Keras' 2x nearest upsampling with the deprecated `tf_half_pixel_for_nn`.
    For integer factors it picks the same pixels as `asymmetric` + floor (no .5 ties occur),
    which every runtime (and TensorRT's parser) supports without a deprecation warning."""
    for node in model.graph.node:
        if node.op_type != "Resize":
            continue
        attrs = {a.name: a for a in node.attribute}
        mode = attrs.get("coordinate_transformation_mode")
        if mode is not None and mode.s == b"tf_half_pixel_for_nn":
            mode.s = b"asymmetric"
            if "nearest_mode" in attrs:
                attrs["nearest_mode"].s = b"floor"
            else:
                node.attribute.add(name="nearest_mode", s=b"floor", type=3)  # 3: STRING


def tensorrt_missing() -> str | None:
    """Why TF-TRT cannot be used here, or None when this TensorFlow has TensorRT."""
    info = tf.sysconfig.get_build_info()
    if not info.get("is_tensorrt_build", False):
        return "this TensorFlow build has no TensorRT (is_tensorrt_build is false)"
    try:
        from tensorflow.python.compiler.tensorrt import trt_convert  # noqa: F401
    except ImportError as error:
        return f"TF-TRT cannot be imported ({error})"
    return None


def export_tftrt(serve: Callable, path: Path) -> None:
    """A TF-TRT fp16 SavedModel. Only runs where TensorRT exists (not on the CI machine)."""
    from tensorflow.python.compiler.tensorrt import trt_convert as trt

    staging = path.with_name(path.name + ".savedmodel")
    module = tf.Module()
    module.serve = serve
    tf.saved_model.save(module, str(staging), signatures={"serving_default": serve})
    params = trt.TrtConversionParams(precision_mode=trt.TrtPrecisionMode.FP16)
    converter = trt.TrtGraphConverterV2(input_saved_model_dir=str(staging), conversion_params=params)
    converter.convert()
    converter.save(str(path))
    shutil.rmtree(staging, ignore_errors=True)
