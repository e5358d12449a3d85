"""The TensorRT engine cache: one serialized engine per (bundle file, TensorRT, GPU, precision).

An engine is only valid for the TensorRT version and GPU that built it, so all of those are in
the key, and the key is in the file name: a change of any of them finds no file and builds anew.
Files are written atomically (a temporary file, fsync, rename), so a build killed halfway, a
full disk or a power cut leaves the old engine or none, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from models.atomic import write_atomically
from models.engines.base import EngineError

log = logging.getLogger(__name__)

FORMAT = 1  # of our cache entries; bumped when what we build changes meaning
T = TypeVar("T")


def default_cache_dir() -> Path:
    """Engines take minutes to build on a Jetson; keep them across restarts (the unit sets
    XDG_CACHE_HOME to its CacheDirectory)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "segcam" / "tensorrt"


@dataclass(frozen=True)
class CacheKey:
    bundle: str  # the bundle's name: readable file names only
    onnx_sha256: str  # the file the engine is built from (model.yaml's checksum)
    tensorrt: str  # trt.__version__
    gpu: str  # CUDA's device name
    compute_capability: str  # "8.7"
    precision: str  # "FP16"
    input_shape: tuple[int, ...]  # the optimisation profile (N, H, W, 3)

    def digest(self) -> str:
        fields = {"format": FORMAT, **asdict(self), "input_shape": list(self.input_shape)}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def file_name(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.bundle).strip("._") or "model"
        return f"{safe}-{self.digest()[:16]}.engine"


class EngineCache:
    """A folder of `<bundle>-<key>.engine` files, each with a `.json` that says what it is for."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, key: CacheKey) -> Path:
        return self.folder / key.file_name()

    def load(self, key: CacheKey) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def store(self, key: CacheKey, blob: bytes, bundle_root: str | Path | None = None) -> Path:
        """Write the engine and its description atomically; then drop the engines this bundle
        folder had before (built for another file, TensorRT or GPU). OSError when it cannot."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        write_atomically(path, blob, durable=True)
        about = {"format": FORMAT, **asdict(key), "input_shape": list(key.input_shape),
                 "bundle_root": str(bundle_root) if bundle_root else None, "bytes": len(blob)}
        write_atomically(path.with_suffix(".json"), json.dumps(about, indent=1), durable=True)
        if bundle_root is not None:
            self._drop_stale(path, str(bundle_root))
        return path

    def discard(self, key: CacheKey) -> None:
        for path in (self.path(key), self.path(key).with_suffix(".json")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _drop_stale(self, keep: Path, bundle_root: str) -> None:
        for about in self.folder.glob("*.json"):
            if about.with_suffix(".engine") == keep:
                continue
            try:
                if json.loads(about.read_text()).get("bundle_root") != bundle_root:
                    continue
            except (OSError, ValueError):
                continue
            for stale in (about.with_suffix(".engine"), about):
                with contextlib.suppress(OSError):
                    stale.unlink()
            log.info("tensorrt: removed the outdated engine %s", about.with_suffix(".engine").name)


def load_or_build(cache: EngineCache, key: CacheKey, build: Callable[[], bytes],
                  deserialize: Callable[[bytes], T | None],
                  bundle_root: str | Path | None = None) -> tuple[T, bool]:
    """(engine, built): the cached engine when it loads, else a new build, cached if possible."""
    path = cache.path(key)
    try:
        blob = cache.load(key)
    except OSError as error:
        log.warning("tensorrt: cannot read %s (%s); building the engine again", path,
                    error.strerror or error)
        blob = None
    if blob is not None:
        engine = deserialize(blob)
        if engine is not None:
            log.info("tensorrt: loaded the cached engine %s", path)
            return engine, False
        log.warning("tensorrt: the cached engine %s does not load; building it again", path)
        with contextlib.suppress(OSError):
            cache.discard(key)
    blob = build()
    try:
        stored = cache.store(key, blob, bundle_root)
        log.info("tensorrt: engine cached as %s", stored)
    except OSError as error:
        log.warning("tensorrt: cannot cache the engine in %s (%s); it is built again at the next "
                    "start", cache.folder, error.strerror or error)
    engine = deserialize(blob)
    if engine is None:
        raise EngineError(f"tensorrt backend: TensorRT cannot load the engine it just built "
                          f"for {key.bundle}")
    return engine, True
