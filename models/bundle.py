"""The model bundle: a folder with `model.yaml` and the fp16 (and int8) model files it lists.

Reading a bundle checks everything a user can get wrong (a missing or truncated file, a checksum
that does not match, an unknown format, a key missing or of the wrong type) and raises
`BundleError`, whose message is one line naming the file and the problem. No TensorFlow here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from models.atomic import write_atomically
from models.letterbox import STRIDE, fits_stride
from models.palette import palette_for
from models.settings_file import read_yaml

MANIFEST = "model.yaml"
# format -> default file name inside the bundle; tftrt is a SavedModel folder.
FORMATS: dict[str, str] = {
    "tflite": "model_fp16.tflite",
    "onnx": "model_fp16.onnx",
    "tftrt": "model_fp16_tftrt",
    "tflite-int8": "model_int8.tflite",
    "onnx-int8": "model_int8.onnx",
}
FORMAT_PRECISION: dict[str, str] = {
    "tflite": "fp16", "onnx": "fp16", "tftrt": "fp16", "tflite-int8": "int8", "onnx-int8": "int8",
}
# `precision`: what the engines run when a bundle has a file of each precision for a backend.
PRECISIONS = ("fp16", "int8")
OUTPUTS = ("labels", "probabilities")
CHANNEL_ORDERS = ("BGR", "RGB")
_TOP_KEYS = ("name", "classes", "palette", "input", "output", "precision", "files",
             "provenance", "parity", "quantization", "accuracy")
_INPUT_KEYS = ("height", "width", "channel_order", "dtype", "dynamic_size")


class BundleError(ValueError):
    """A bundle that cannot be used as it is; the message is one line naming the file."""


@dataclass(frozen=True)
class InputSpec:
    height: int
    width: int
    channel_order: str = "BGR"
    dtype: str = "uint8"
    dynamic_size: bool = False  # True: any height/width divisible by the stride is accepted


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative to the bundle folder
    sha256: str
    bytes: int


@dataclass
class Bundle:
    root: Path
    name: str
    classes: tuple[str, ...]  # names by label value (models.labels.label_names)
    palette: np.ndarray  # (len(classes), 3) uint8 RGB
    input: InputSpec
    files: dict[str, ModelFile]
    output: str = "labels"
    precision: str = "fp16"
    provenance: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, float] = field(default_factory=dict)
    # int8 only: the calibration set and the scheme of each int8 file
    quantization: dict[str, Any] = field(default_factory=dict)
    # scores of each file (and of fp32) on a labelled split, with the mIoU delta against fp32
    accuracy: dict[str, Any] = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def input_size(self) -> tuple[int, int]:
        return self.input.height, self.input.width

    def path_of(self, fmt: str) -> Path:
        """The file of one format; BundleError when the bundle does not have it."""
        if fmt not in self.files:
            have = ", ".join(sorted(self.files)) or "none"
            raise BundleError(f"{self.manifest_path}: no '{fmt}' model in this bundle (has: {have})")
        return self.root / self.files[fmt].path

    def to_manifest(self) -> dict[str, Any]:
        optional = {key: _plain(value) for key, value in
                    (("quantization", self.quantization), ("accuracy", self.accuracy)) if value}
        return {
            "name": self.name,
            "classes": list(self.classes),
            "palette": [[int(c) for c in rgb] for rgb in self.palette],
            "input": {
                "height": self.input.height,
                "width": self.input.width,
                "channel_order": self.input.channel_order,
                "dtype": self.input.dtype,
                "dynamic_size": self.input.dynamic_size,
            },
            "output": self.output,
            "precision": self.precision,
            "files": {
                fmt: {"path": f.path, "sha256": f.sha256, "bytes": f.bytes}
                for fmt, f in self.files.items()
            },
            "provenance": _plain(self.provenance),
            "parity": {fmt: round(float(value), 6) for fmt, value in self.parity.items()},
            **optional,
        }


def digest(path: Path) -> tuple[str, int]:
    """sha256 and size of a file, or of a folder's files (relative names included) in order."""
    sha = hashlib.sha256()
    if path.is_dir():
        total = 0
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            sha.update(item.relative_to(path).as_posix().encode() + b"\0")
            total += _feed(sha, item)
        return sha.hexdigest(), total
    size = _feed(sha, path)
    return sha.hexdigest(), size


def _feed(sha: Any, path: Path) -> int:
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return size


def make_bundle(
    root: str | Path,
    *,
    name: str,
    classes: list[str] | tuple[str, ...],
    height: int,
    width: int,
    files: Mapping[str, str | Path],
    output: str = "labels",
    palette: np.ndarray | None = None,
    dynamic_size: bool = False,
    provenance: dict[str, Any] | None = None,
    parity: dict[str, float] | None = None,
    precision: str | None = None,
) -> Bundle:
    """A Bundle for model files already in `root`, with their checksums (nothing written)."""
    root = Path(root)
    entries = {}
    for fmt, file in files.items():
        if fmt not in FORMATS:
            raise BundleError(f"{root / MANIFEST}: unknown format '{fmt}'")
        path = root / file
        sha, size = digest(path)
        entries[fmt] = ModelFile(path.relative_to(root).as_posix(), sha, size)
    colours = palette_for(list(classes)) if palette is None else np.asarray(palette, np.uint8)
    return Bundle(
        root=root, name=name, classes=tuple(classes), palette=colours,
        input=InputSpec(height, width, dynamic_size=dynamic_size), files=entries, output=output,
        precision=precision or default_precision(entries),
        provenance=dict(provenance or {}), parity=dict(parity or {}),
    )


def default_precision(files: Mapping[str, Any]) -> str:
    """fp16 when the bundle has any fp16 file (the safer default), else int8."""
    return "fp16" if any(FORMAT_PRECISION[fmt] == "fp16" for fmt in files) else "int8"


def write_bundle(bundle: Bundle) -> Path:
    """Write `model.yaml` atomically (a reader never sees half a manifest); returns its path."""
    _validate(bundle.to_manifest(), bundle.manifest_path)  # never write what cannot be read
    bundle.root.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(bundle.to_manifest(), sort_keys=False, default_flow_style=None, width=200)
    return write_atomically(bundle.manifest_path, text, durable=True)


def load_bundle(path: str | Path, verify: bool = True) -> Bundle:
    """Read a bundle folder (or its model.yaml); with verify, check every file's size and sha256."""
    path = Path(path)
    manifest = path if path.name == MANIFEST or path.is_file() else path / MANIFEST
    if not manifest.is_file():
        raise BundleError(f"{manifest}: missing (not a model bundle)")
    raw = read_yaml(manifest, BundleError)
    bundle = _validate(raw, manifest)
    if verify:
        for fmt in bundle.files:
            _verify_file(bundle, fmt)
    return bundle


def _verify_file(bundle: Bundle, fmt: str) -> None:
    entry = bundle.files[fmt]
    path = bundle.root / entry.path
    if not path.exists():
        raise BundleError(f"{path}: missing (listed in {MANIFEST} as the {fmt} model)")
    sha, size = digest(path)
    if size != entry.bytes:
        raise BundleError(
            f"{path}: {size} bytes but {MANIFEST} says {entry.bytes} (truncated or replaced)"
        )
    if sha != entry.sha256:
        raise BundleError(
            f"{path}: sha256 {sha[:12]}... does not match {MANIFEST} ({entry.sha256[:12]}...)"
        )


# --- validation: each helper names the dotted key and the manifest file ---------------------


def _validate(raw: Any, manifest: Path) -> Bundle:
    where = str(manifest)
    top = _mapping(raw, "top level", where)
    for key in top:
        if key not in _TOP_KEYS:
            raise BundleError(f"{where}: unknown key '{key}' (known: {', '.join(_TOP_KEYS)})")
    name = _get(top, "name", str, where)
    classes = _get(top, "classes", list, where)
    if not classes or not all(isinstance(c, str) and c for c in classes):
        raise BundleError(f"{where}: 'classes' must be a non-empty list of names")
    palette = _palette(_get(top, "palette", list, where), len(classes), where)
    spec = _mapping(_get(top, "input", dict, where), "input", where)
    for key in spec:
        if key not in _INPUT_KEYS:
            raise BundleError(f"{where}: unknown key 'input.{key}'")
    height = _get(spec, "height", int, where, "input.")
    width = _get(spec, "width", int, where, "input.")
    if height <= 0 or width <= 0 or not fits_stride(height, width):
        raise BundleError(
            f"{where}: input size {height}x{width} must be positive multiples of {STRIDE}"
        )
    order = _get(spec, "channel_order", str, where, "input.")
    if order not in CHANNEL_ORDERS:
        raise BundleError(f"{where}: 'input.channel_order' must be BGR or RGB, got {order!r}")
    dtype = _get(spec, "dtype", str, where, "input.")
    if dtype != "uint8":
        raise BundleError(f"{where}: 'input.dtype' must be uint8, got {dtype!r}")
    dynamic = _get(spec, "dynamic_size", bool, where, "input.", default=False)
    output = _get(top, "output", str, where)
    if output not in OUTPUTS:
        raise BundleError(f"{where}: 'output' must be labels or probabilities, got {output!r}")
    precision = _get(top, "precision", str, where)
    if precision not in PRECISIONS:
        raise BundleError(f"{where}: 'precision' must be {' or '.join(PRECISIONS)}, "
                          f"got {precision!r}")
    files = _files(_get(top, "files", dict, where), where)
    provenance = _get(top, "provenance", dict, where, default={}) or {}
    parity = _get(top, "parity", dict, where, default={}) or {}
    quantization = _get(top, "quantization", dict, where, default={}) or {}
    accuracy = _get(top, "accuracy", dict, where, default={}) or {}
    for fmt, value in parity.items():
        if fmt not in FORMATS or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BundleError(f"{where}: 'parity.{fmt}' must be a fraction for a known format")
    return Bundle(
        root=manifest.parent, name=name, classes=tuple(classes), palette=palette,
        input=InputSpec(height, width, order, dtype, dynamic), files=files, output=output,
        precision=precision, provenance=provenance, parity={k: float(v) for k, v in parity.items()},
        quantization=quantization, accuracy=accuracy,
    )


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
               dict: "a mapping"}
_MISSING = object()


def _get(node: dict, key: str, kind: type, where: str, prefix: str = "",
         default: Any = _MISSING) -> Any:
    if key not in node or (node[key] is None and default is not _MISSING):
        if default is _MISSING:
            raise BundleError(f"{where}: missing key '{prefix}{key}'")
        return default
    value = node[key]
    wrong_bool = kind is int and isinstance(value, bool)  # yaml's true is an int to Python
    if not isinstance(value, kind) or wrong_bool:
        raise BundleError(
            f"{where}: '{prefix}{key}' must be {_TYPE_NAMES[kind]}, got {type(value).__name__}"
        )
    return value


def _mapping(value: Any, what: str, where: str) -> dict:
    if not isinstance(value, dict):
        raise BundleError(f"{where}: {what} must be a mapping, got {type(value).__name__}")
    return value


def _palette(rows: list, n_classes: int, where: str) -> np.ndarray:
    ok = all(
        isinstance(row, list) and len(row) == 3
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in row)
        for row in rows
    )
    if not ok:
        raise BundleError(f"{where}: 'palette' must be a list of [R, G, B] integers 0..255")
    if len(rows) != n_classes:
        raise BundleError(f"{where}: 'palette' has {len(rows)} colours for {n_classes} classes")
    return np.array(rows, dtype=np.uint8).reshape(-1, 3)


def _files(node: dict, where: str) -> dict[str, ModelFile]:
    if not node:
        raise BundleError(f"{where}: 'files' lists no model file")
    files = {}
    for fmt, entry in node.items():
        if fmt not in FORMATS:
            raise BundleError(
                f"{where}: unknown format '{fmt}' in files (known: {', '.join(FORMATS)})"
            )
        entry = _mapping(entry, f"'files.{fmt}'", where)
        prefix = f"files.{fmt}."
        path = _get(entry, "path", str, where, prefix)
        if Path(path).is_absolute() or ".." in Path(path).parts:
            raise BundleError(f"{where}: '{prefix}path' must be inside the bundle, got {path!r}")
        files[fmt] = ModelFile(path, _get(entry, "sha256", str, where, prefix),
                               _get(entry, "bytes", int, where, prefix))
    return files


def _plain(value: Any) -> Any:
    """Provenance as plain YAML types (numpy scalars and Paths would not survive safe_load)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value
