"""YAML settings files validated into pydantic models: the part the app's and the training
configs share (reading, dotted command-line overrides, one-line errors)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from models.errors import first_line

Settings = TypeVar("Settings", bound=BaseModel)
MAX_BYTES = 2**20  # settings files are a few KB; a bigger one is a mistake (and slow to parse)


class ConfigError(ValueError):
    """A configuration mistake; one line naming the file and the key."""


def read_yaml(path: Path, error: type[Exception] = ConfigError) -> Any:
    """safe_load a small YAML file; every way a user's file can fail is `error` with one line
    naming the file: missing, not a regular file (a FIFO or /dev/zero would block or never
    end), over MAX_BYTES, not UTF-8, not YAML, nested too deeply for the parser."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise error(f"{path}: not a regular file")
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(MAX_BYTES + 1)
        except OSError as exc:
            raise error(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_BYTES:
        raise error(f"{path}: larger than {MAX_BYTES // 2**20} MB; not a settings file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                    f"{exc.start})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({first_line(exc)})") from None
    except RecursionError:  # PyYAML's parser recurses once per nesting level
        raise error(f"{path}: not valid YAML (nested too deeply)") from None


def read_mapping(path: Path) -> dict:
    """The file's top-level mapping; a section with every key commented out is an empty one."""
    if not path.exists():  # the wording users know; read_yaml says the same for a race
        raise ConfigError(f"{path}: config file not found")
    loaded = read_yaml(path)
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return {key: {} if value is None else value for key, value in (loaded or {}).items()}


def apply_overrides(raw: dict, overrides: dict | None, name: str) -> None:
    """Set `section.key` values (from command-line flags) in the raw mapping."""
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):  # e.g. `source: test://` in the file and --source
                raise ConfigError(f"{name}: {key}: expected a mapping of settings")
        node[leaf] = value


def validate(model: type[Settings], raw: dict, name: str) -> Settings:
    """Validate; the first problem becomes one line naming the file and the dotted key (an
    unknown key also lists the keys its section takes)."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            known = section_keys(model, first["loc"][:-1])
            message = f"unknown key (valid: {', '.join(known)})" if known else "unknown key"
        else:  # pydantic prefixes a validator's own message; the key already says where
            message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{name}: {key}: {message}" if key else f"{name}: {message}") from None


def section_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys of the section at `loc` (list positions skipped); [] when it is no section."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        nested = _model_in(field.annotation) if field else None
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The settings model an annotation holds (directly, in a list, or in an Optional)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
