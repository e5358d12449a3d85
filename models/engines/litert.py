"""LiteRT (ai-edge-litert) running the .tflite (fp16 or int8) on the CPU through XNNPACK."""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import numpy as np

from models.bundle import Bundle, BundleError
from models.engines.base import Engine, check_class_count, import_runtime, loop_batch
from models.errors import first_line
from models.native_stderr import quiet_native_stderr

log = logging.getLogger(__name__)


class LiteRTEngine(Engine):
    backend = "litert"

    def __init__(self, bundle: Bundle, threads: int | None = None, fmt: str | None = None) -> None:
        super().__init__(bundle)
        path = self._choose_file(fmt)
        interpreter = import_runtime(self.backend, "ai_edge_litert.interpreter", "ai-edge-litert",
                                     "pip install ai-edge-litert")
        self.threads = threads or _cores()
        data = path.read_bytes()
        check_class_count(bundle, _read_channels(data, path), path.name)
        try:  # the default op resolver applies XNNPACK to every op it supports
            with quiet_native_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
                self._interpreter = interpreter.Interpreter(model_content=data,
                                                            num_threads=self.threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise BundleError(f"{path}: LiteRT cannot load it ({error})") from None
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        batch, height, width = (int(d) for d in self._input["shape"][:3])
        if self._input["dtype"] != np.uint8 or (height, width) != bundle.input_size:
            raise BundleError(
                f"{bundle.manifest_path}: says {bundle.input.height}x{bundle.input.width} uint8 "
                f"but {path.name} takes {height}x{width} {np.dtype(self._input['dtype']).name}"
            )
        self._batch = batch
        log.debug("litert: %s (%s), %d thread(s), XNNPACK", path.name, self.precision,
                  self.threads)

    def _run(self, frames: np.ndarray) -> np.ndarray:
        if frames.shape[1:3] != tuple(self._input["shape"][1:3]):  # dynamic_size bundles only
            self._resize(frames.shape[1], frames.shape[2])
        return loop_batch(self._run_one, frames)

    def _run_one(self, frame: np.ndarray) -> np.ndarray:
        self._interpreter.set_tensor(self._input["index"], frame)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"])

    def _resize(self, height: int, width: int) -> None:
        self._interpreter.resize_tensor_input(self._input["index"], [1, height, width, 3])
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]

    def close(self) -> None:
        self._interpreter = None  # type: ignore[assignment]


def _read_channels(data: bytes, path: Path) -> int | None:
    """graph_channels, with a file that is no TFLite flatbuffer as one BundleError line."""
    from ai_edge_litert import schema_py_generated as schema

    if not schema.Model.ModelBufferHasIdentifier(data, 0):
        raise BundleError(f"{path}: not a TFLite model (no TFL3 identifier)")
    try:  # the identifier can be right and the tables garbage
        return graph_channels(data)
    except (struct.error, IndexError, ValueError, AttributeError) as error:
        raise BundleError(f"{path}: not a readable TFLite model ({first_line(error)})") from None


def graph_channels(model: bytes) -> int | None:
    """Channels the graph computes before its argmax/threshold, read from the flatbuffer."""
    from ai_edge_litert import schema_py_generated as schema

    root = schema.Model.GetRootAs(model, 0)
    graph = root.Subgraphs(0)
    codes = [
        max(root.OperatorCodes(i).BuiltinCode(), root.OperatorCodes(i).DeprecatedBuiltinCode())
        for i in range(root.OperatorCodesLength())
    ]
    output_shape = graph.Tensors(graph.Outputs(0)).ShapeAsNumpy()
    if len(output_shape) == 4:  # probabilities
        return int(output_shape[-1])
    decisive = (schema.BuiltinOperator.ARG_MAX, schema.BuiltinOperator.GREATER)
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        if codes[op.OpcodeIndex()] in decisive:
            shape = graph.Tensors(op.Inputs(0)).ShapeAsNumpy()
            return int(shape[-1]) if len(shape) == 4 else None
    return None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def graph_macs(model: bytes) -> int:
    """Multiply-accumulates of one inference, counted from the flatbuffer's static shapes:
    convolutions (plain, depthwise, transposed) and fully-connected layers; element-wise ops,
    resizes and the argmax are left out (they are not multiply-accumulates)."""
    from ai_edge_litert import schema_py_generated as schema

    ops = schema.BuiltinOperator
    root = schema.Model.GetRootAs(model, 0)
    graph = root.Subgraphs(0)
    codes = [
        max(root.OperatorCodes(i).BuiltinCode(), root.OperatorCodes(i).DeprecatedBuiltinCode())
        for i in range(root.OperatorCodesLength())
    ]

    def shape(index: int) -> list[int]:
        return [int(d) for d in graph.Tensors(index).ShapeAsNumpy()]

    total = 0
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = codes[op.OpcodeIndex()]
        if code == ops.CONV_2D:  # filter (Cout, kh, kw, Cin/groups), output (N, H, W, Cout)
            _, kh, kw, cin = shape(op.Inputs(1))
            total += _product(shape(op.Outputs(0))) * kh * kw * cin
        elif code == ops.DEPTHWISE_CONV_2D:  # filter (1, kh, kw, Cout): one input channel each
            _, kh, kw, _ = shape(op.Inputs(1))
            total += _product(shape(op.Outputs(0))) * kh * kw
        elif code == ops.TRANSPOSE_CONV:  # filter (Cout, kh, kw, Cin); every input pixel
            cout, kh, kw, _ = shape(op.Inputs(1))
            total += _product(shape(op.Inputs(2))) * kh * kw * cout
        elif code == ops.FULLY_CONNECTED:  # weights (Cout, Cin)
            _, cin = shape(op.Inputs(1))
            total += _product(shape(op.Outputs(0))) * cin
    return total


def _product(values: list[int]) -> int:
    result = 1
    for value in values:
        result *= value
    return result
