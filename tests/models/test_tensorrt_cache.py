"""The TensorRT engine cache on its own: keys, a rebuild when the key changes, atomic writes.

No TensorRT is needed: `load_or_build` takes the build and the deserializer as functions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from testkit import ROOT

from models.engines.base import EngineError
from models.engines.trt_cache import CacheKey, EngineCache, load_or_build

KEY = CacheKey("camvid-unet", "ab" * 32, "10.3.0", "Orin", "8.7", "FP16", (1, 384, 480, 3))


class Builds:
    """A build that returns new bytes each time and counts its calls."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> bytes:
        self.count += 1
        return f"plan {self.count}".encode()


def accept(blob: bytes) -> bytes | None:
    return blob if blob.startswith(b"plan") else None


@pytest.mark.parametrize("change", [
    {"onnx_sha256": "cd" * 32}, {"tensorrt": "10.4.0"}, {"gpu": "NVIDIA Tegra X1"},
    {"compute_capability": "5.3"}, {"precision": "FP32"}, {"input_shape": (1, 192, 256, 3)},
])
def test_every_part_of_the_key_makes_another_file(change: dict) -> None:
    other = replace(KEY, **change)
    assert other.digest() != KEY.digest()
    assert other.file_name() != KEY.file_name()


def test_the_file_name_is_stable_and_readable() -> None:
    again = CacheKey("camvid-unet", "ab" * 32, "10.3.0", "Orin", "8.7", "FP16", (1, 384, 480, 3))
    assert again.file_name() == KEY.file_name()
    assert KEY.file_name().startswith("camvid-unet-") and KEY.file_name().endswith(".engine")
    assert replace(KEY, bundle="../my model").file_name().startswith("my_model-")


def test_built_once_then_loaded_from_the_cache(tmp_path: Path) -> None:
    cache, build = EngineCache(tmp_path / "trt"), Builds()
    engine, built = load_or_build(cache, KEY, build, accept, bundle_root="/b")
    assert (engine, built, build.count) == (b"plan 1", True, 1)
    engine, built = load_or_build(cache, KEY, build, accept, bundle_root="/b")
    assert (engine, built, build.count) == (b"plan 1", False, 1)
    about = json.loads(cache.path(KEY).with_suffix(".json").read_text())
    assert about["tensorrt"] == "10.3.0" and about["gpu"] == "Orin"
    assert about["bundle_root"] == "/b" and about["input_shape"] == [1, 384, 480, 3]


@pytest.mark.parametrize("change", [
    {"onnx_sha256": "cd" * 32}, {"tensorrt": "10.4.0"}, {"gpu": "NVIDIA GeForce RTX 3060",
                                                          "compute_capability": "8.6"},
])
def test_a_changed_key_rebuilds_and_drops_the_outdated_engine(tmp_path: Path,
                                                              change: dict) -> None:
    cache, build = EngineCache(tmp_path), Builds()
    load_or_build(cache, KEY, build, accept, bundle_root="/b")
    other_bundle = replace(KEY, bundle="other")
    load_or_build(cache, other_bundle, build, accept, bundle_root="/elsewhere")
    new = replace(KEY, **change)
    engine, built = load_or_build(cache, new, build, accept, bundle_root="/b")
    assert built and engine == b"plan 3" and build.count == 3
    assert not cache.path(KEY).exists()  # the same bundle folder's old engine is gone
    assert cache.path(other_bundle).exists()  # another bundle's is not
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [new.file_name(), new.file_name().replace(".engine", ".json"),
         other_bundle.file_name(), other_bundle.file_name().replace(".engine", ".json")])


def test_an_engine_that_does_not_load_is_built_again(tmp_path: Path, caplog) -> None:
    cache, build = EngineCache(tmp_path), Builds()
    cache.path(KEY).write_bytes(b"garbage from a crash of another program")
    engine, built = load_or_build(cache, KEY, build, accept)
    assert (engine, built) == (b"plan 1", True)
    assert cache.path(KEY).read_bytes() == b"plan 1"
    assert "does not load; building it again" in caplog.text


def test_a_cache_that_cannot_be_written_still_gives_an_engine(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    engine, built = load_or_build(EngineCache(blocker / "trt"), KEY, Builds(), accept)
    assert (engine, built) == (b"plan 1", True)
    assert "cannot cache the engine" in caplog.text and "built again at the next start" in caplog.text


def test_an_engine_tensorrt_refuses_right_after_building_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="cannot load the engine it just built for camvid-unet"):
        load_or_build(EngineCache(tmp_path), KEY, lambda: b"bad", accept)


# A real failure in the middle of the write: the file size limit (RLIMIT_FSIZE) makes write()
# fail with EFBIG after 64 KiB, as a full disk would.
WRITE_UNDER_A_LIMIT = """
import resource, signal, sys
from models.engines.trt_cache import CacheKey, EngineCache
key = CacheKey(*sys.argv[2:8], (1, 384, 480, 3))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
try:
    EngineCache(sys.argv[1]).store(key, b"n" * 1_000_000)
except OSError as error:
    print("failed:", error.strerror)
"""


def test_a_write_that_fails_halfway_leaves_the_old_engine_whole(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    cache.store(KEY, b"o" * 30_000)
    args = [str(tmp_path), KEY.bundle, KEY.onnx_sha256, KEY.tensorrt, KEY.gpu,
            KEY.compute_capability, KEY.precision]
    done = subprocess.run([sys.executable, "-c", WRITE_UNDER_A_LIMIT, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "failed: File too large"
    assert cache.load(KEY) == b"o" * 30_000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [KEY.file_name(), KEY.file_name().replace(".engine", ".json")])  # no temporary left
