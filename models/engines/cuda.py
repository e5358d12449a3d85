"""The CUDA runtime through ctypes on libcudart: the GPU's name, device buffers, one stream.

ctypes rather than cuda-python: JetPack ships libcudart with every release, while cuda-python
is one more pip package whose version has to match the CUDA release on the board.
Only the few calls the TensorRT engine needs; every failure is a CudaError of one line.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from models.engines.base import EngineError

# Newest first: a board has one CUDA; a desktop may have several, the driver picks none of them.
_SONAMES = ("libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0",
            "libcudart.so.10.2")
_FOLDERS = ("/usr/local/cuda/lib64", "/usr/local/cuda/targets/aarch64-linux/lib",
            "/usr/local/cuda/lib")
_ATTR_CC_MAJOR, _ATTR_CC_MINOR, _ATTR_INTEGRATED = 75, 76, 18  # cudaDeviceAttr values
_HOST_TO_DEVICE, _DEVICE_TO_HOST = 1, 2  # cudaMemcpyKind
_PROP_BYTES = 8192  # larger than cudaDeviceProp in any CUDA release; its name comes first


class CudaError(EngineError):
    """CUDA missing, no usable GPU, or a runtime call that failed; one line."""


@dataclass(frozen=True)
class GpuInfo:
    name: str  # as CUDA names it: "Orin", "NVIDIA Tegra X1", "NVIDIA GeForce RTX 3060"
    compute_capability: tuple[int, int]
    integrated: bool  # a Jetson's GPU shares the system memory

    @property
    def sm(self) -> str:
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}"


def _candidates() -> list[str]:
    paths = list(_SONAMES)
    for folder in _FOLDERS:
        paths += sorted(glob.glob(os.path.join(folder, "libcudart.so*")), reverse=True)
    for entry in sys.path:  # the pip wheels (tensorrt-cu12 pulls nvidia-cuda-runtime-cu12)
        folder = Path(entry) / "nvidia" / "cuda_runtime" / "lib"
        paths += sorted(map(str, folder.glob("libcudart.so*")), reverse=True)
    return paths


class CudaRuntime:
    """A loaded libcudart. `CudaRuntime.load()` raises CudaError when there is none."""

    def __init__(self, lib: ctypes.CDLL, path: str) -> None:
        self._lib = lib
        self.path = path
        lib.cudaGetErrorString.restype = ctypes.c_char_p
        lib.cudaGetErrorName.restype = ctypes.c_char_p
        vp, size, stream = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p
        lib.cudaMalloc.argtypes = [ctypes.POINTER(vp), size]
        lib.cudaMallocHost.argtypes = [ctypes.POINTER(vp), size]
        lib.cudaFree.argtypes = [vp]
        lib.cudaFreeHost.argtypes = [vp]
        lib.cudaMemcpyAsync.argtypes = [vp, vp, size, ctypes.c_int, stream]
        lib.cudaStreamCreate.argtypes = [ctypes.POINTER(stream)]
        lib.cudaStreamSynchronize.argtypes = [stream]
        lib.cudaStreamDestroy.argtypes = [stream]

    @classmethod
    def load(cls) -> CudaRuntime:
        tried = []
        for path in _candidates():
            try:
                return cls(ctypes.CDLL(path), path)
            except OSError:
                tried.append(path)
        raise CudaError("CUDA: libcudart not found (JetPack installs it in /usr/local/cuda; "
                        "elsewhere the CUDA toolkit or pip's nvidia-cuda-runtime provides it)")

    def _check(self, code: int, call: str) -> None:
        if code != 0:
            name = (self._lib.cudaGetErrorName(code) or b"?").decode()
            text = (self._lib.cudaGetErrorString(code) or b"").decode()
            raise CudaError(f"CUDA: {call} failed ({name}: {text})")

    def version(self) -> str:
        value = ctypes.c_int()
        self._check(self._lib.cudaRuntimeGetVersion(ctypes.byref(value)), "cudaRuntimeGetVersion")
        return f"{value.value // 1000}.{value.value % 1000 // 10}"

    def driver_version(self) -> int:
        """0 when no NVIDIA driver is installed."""
        value = ctypes.c_int()
        self._check(self._lib.cudaDriverGetVersion(ctypes.byref(value)), "cudaDriverGetVersion")
        return value.value

    def device_count(self) -> int:
        count = ctypes.c_int()
        self._check(self._lib.cudaGetDeviceCount(ctypes.byref(count)), "cudaGetDeviceCount")
        return count.value

    def device(self, index: int = 0) -> GpuInfo:
        self._check(self._lib.cudaSetDevice(index), "cudaSetDevice")

        def attribute(attr: int) -> int:
            value = ctypes.c_int()
            self._check(self._lib.cudaDeviceGetAttribute(ctypes.byref(value), attr, index),
                        "cudaDeviceGetAttribute")
            return value.value

        props = ctypes.create_string_buffer(_PROP_BYTES)
        # CUDA 12 exports the current layout as _v2 (13 renamed it back); the name leads both.
        get = getattr(self._lib, "cudaGetDeviceProperties_v2", None) or \
            self._lib.cudaGetDeviceProperties
        self._check(get(props, index), "cudaGetDeviceProperties")
        name = props.raw[:256].split(b"\0", 1)[0].decode(errors="replace").strip()
        return GpuInfo(name or f"GPU {index}", (attribute(_ATTR_CC_MAJOR),
                                                attribute(_ATTR_CC_MINOR)),
                       bool(attribute(_ATTR_INTEGRATED)))

    # -- memory and streams (the TensorRT engine's buffers) ----------------------------------

    def malloc(self, nbytes: int) -> int:
        pointer = ctypes.c_void_p()
        self._check(self._lib.cudaMalloc(ctypes.byref(pointer), nbytes), "cudaMalloc")
        return int(pointer.value or 0)

    def malloc_host(self, nbytes: int) -> int:
        """Page-locked host memory: copies from it run asynchronously on the stream."""
        pointer = ctypes.c_void_p()
        self._check(self._lib.cudaMallocHost(ctypes.byref(pointer), nbytes), "cudaMallocHost")
        return int(pointer.value or 0)

    def free(self, pointer: int) -> None:
        self._check(self._lib.cudaFree(pointer), "cudaFree")

    def free_host(self, pointer: int) -> None:
        self._check(self._lib.cudaFreeHost(pointer), "cudaFreeHost")

    def copy_to_device(self, device: int, host: int, nbytes: int, stream: int) -> None:
        self._check(self._lib.cudaMemcpyAsync(device, host, nbytes, _HOST_TO_DEVICE, stream),
                    "cudaMemcpyAsync")

    def copy_to_host(self, host: int, device: int, nbytes: int, stream: int) -> None:
        self._check(self._lib.cudaMemcpyAsync(host, device, nbytes, _DEVICE_TO_HOST, stream),
                    "cudaMemcpyAsync")

    def stream_create(self) -> int:
        stream = ctypes.c_void_p()
        self._check(self._lib.cudaStreamCreate(ctypes.byref(stream)), "cudaStreamCreate")
        return int(stream.value or 0)

    def synchronize(self, stream: int) -> None:
        self._check(self._lib.cudaStreamSynchronize(stream), "cudaStreamSynchronize")

    def stream_destroy(self, stream: int) -> None:
        self._check(self._lib.cudaStreamDestroy(stream), "cudaStreamDestroy")


def first_gpu() -> tuple[CudaRuntime, GpuInfo]:
    """The runtime and GPU 0, or a CudaError saying which part is missing."""
    cuda = CudaRuntime.load()
    try:
        count = cuda.device_count()
    except CudaError as error:
        if cuda.driver_version() == 0:
            raise CudaError(f"CUDA {cuda.version()} runtime found but no NVIDIA driver "
                            "(no GPU here, or its driver is not loaded)") from None
        raise error from None
    if count == 0:
        raise CudaError("CUDA: no GPU found (cudaGetDeviceCount is 0)")
    return cuda, cuda.device(0)


def gpu_name() -> str:
    """GPU 0's name for a log line, or "GPU" when CUDA cannot tell."""
    try:
        return first_gpu()[1].name
    except CudaError:
        return "GPU"
