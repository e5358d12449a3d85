"""A stand-in for the `tensorrt` module, ONLY for the build and cache logic (no GPU here).

Thin and written to the documented Python API (8.6/10.x): Builder, create_network,
OnnxParser.parse, create_builder_config, set_memory_pool_limit, set_flag(BuilderFlag.FP16),
optimisation profiles, build_serialized_network, Runtime.deserialize_cuda_engine and the
name-based tensor calls. The "plan" it builds is JSON of what the builder was asked, so a test
can read it back; an engine deserializes only under the version that built it, as TensorRT's do.
"""

from __future__ import annotations

import enum
import json
import types

import numpy as np


def make(version: str = "10.3.0", input_shape: tuple[int, ...] = (1, 384, 480, 3),
         fp16_flag: bool = True) -> types.ModuleType:
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.builds = []  # one dict per build_serialized_network call

    class ILogger:
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)

        def __init__(self) -> None:
            pass

    class Logger(ILogger):
        pass

    trt.ILogger, trt.Logger = ILogger, Logger
    trt.NetworkDefinitionCreationFlag = enum.IntEnum("NetworkDefinitionCreationFlag",
                                                     {"EXPLICIT_BATCH": 0})
    trt.MemoryPoolType = enum.IntEnum("MemoryPoolType", {"WORKSPACE": 0})
    trt.BuilderFlag = enum.IntEnum("BuilderFlag", {"FP16": 0, "INT8": 1} if fp16_flag
                                   else {"INT8": 1})
    trt.TensorIOMode = enum.IntEnum("TensorIOMode", {"INPUT": 1, "OUTPUT": 2})
    trt.DataType = enum.IntEnum("DataType", {"UINT8": 1, "FLOAT": 2})
    trt.nptype = lambda dtype: {trt.DataType.UINT8: np.uint8, trt.DataType.FLOAT: np.float32}[dtype]

    class Tensor:
        def __init__(self, name: str, shape: tuple[int, ...]) -> None:
            self.name, self.shape = name, shape

    class Network:
        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.inputs: list[Tensor] = []

        @property
        def num_inputs(self) -> int:
            return len(self.inputs)

        def get_input(self, i: int) -> Tensor:
            return self.inputs[i]

    class ParserError:
        def __init__(self, text: str) -> None:
            self.text = text

        def __str__(self) -> str:
            return self.text

    class OnnxParser:
        def __init__(self, network: Network, logger: ILogger) -> None:
            self.network, self.errors = network, []

        def parse(self, model: bytes) -> bool:
            if b"onnx" not in model[:4096] and b"ONNX" not in model[:4096]:
                self.errors.append(ParserError("In node -1 (parseGraph): INVALID_GRAPH:\n"
                                               "Assertion failed: model is not ONNX"))
                return False
            self.network.inputs.append(Tensor("frames", trt.input_shape))
            return True

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def get_error(self, i: int) -> ParserError:
            return self.errors[i]

    class Profile:
        def __init__(self) -> None:
            self.shapes: dict[str, list] = {}

        def set_shape(self, name, low, opt, high) -> None:
            self.shapes[name] = [list(low), list(opt), list(high)]

    class Config:
        def __init__(self) -> None:
            self.flags, self.pools, self.profiles = [], {}, []

        def set_memory_pool_limit(self, pool, size: int) -> None:
            self.pools[int(pool)] = size

        def set_flag(self, flag) -> None:
            self.flags.append(flag.name)

        def add_optimization_profile(self, profile: Profile) -> int:
            self.profiles.append(profile.shapes)
            return len(self.profiles) - 1

    class Builder:
        platform_has_fast_fp16 = True

        def __init__(self, logger: ILogger) -> None:
            self.logger = logger

        def create_network(self, flags: int = 0) -> Network:
            return Network(flags)

        def create_builder_config(self) -> Config:
            return Config()

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def build_serialized_network(self, network: Network, config: Config):
            plan = {"version": trt.__version__, "network_flags": network.flags,
                    "flags": config.flags, "pools": config.pools, "profiles": config.profiles,
                    "input": list(network.inputs[0].shape)}
            trt.builds.append(plan)
            if trt.fail_build:
                self.logger.log(ILogger.ERROR, "Error Code 4: Internal Error (out of memory)")
                return None
            return memoryview(b"FAKEPLAN" + json.dumps(plan).encode())

    class Context:
        def __init__(self, engine: Engine) -> None:
            self.engine, self.addresses, self.shapes = engine, {}, {}

        def set_input_shape(self, name: str, shape) -> bool:
            self.shapes[name] = tuple(shape)
            return True

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            frames = self.shapes.get("frames", self.engine.get_tensor_shape("frames"))
            return tuple(frames) if name == "frames" else tuple(frames[:3])

        def set_tensor_address(self, name: str, pointer: int) -> bool:
            self.addresses[name] = pointer
            return True

        def execute_async_v3(self, stream: int) -> bool:
            return True

    class Engine:
        def __init__(self, plan: dict) -> None:
            self.plan = plan
            n, h, w, _c = trt.input_shape
            self.shapes = {"frames": tuple(trt.input_shape), "labels": (n, h, w)}

        num_io_tensors = 2

        def get_tensor_name(self, i: int) -> str:
            return ("frames", "labels")[i]

        def get_tensor_mode(self, name: str):
            return trt.TensorIOMode.INPUT if name == "frames" else trt.TensorIOMode.OUTPUT

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            return self.shapes[name]

        def get_tensor_dtype(self, name: str):
            return trt.DataType.UINT8

        def create_execution_context(self) -> Context:
            return Context(self)

    class Runtime:
        def __init__(self, logger: ILogger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, blob: bytes):
            blob = bytes(blob)
            if not blob.startswith(b"FAKEPLAN"):
                self.logger.log(ILogger.ERROR, "1: [stdArchiveReader.cpp] Serialization "
                                "assertion magicTagRead == kMAGIC_TAG failed")
                return None
            plan = json.loads(blob[8:])
            if plan["version"] != trt.__version__:
                self.logger.log(ILogger.ERROR, "Serialization assertion: version tag failed")
                return None
            return Engine(plan)

    trt.input_shape = input_shape
    trt.fail_build = False
    trt.Builder, trt.OnnxParser, trt.Runtime = Builder, OnnxParser, Runtime
    return trt
