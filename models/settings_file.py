"""YAML settings files validated into pydantic models: the part the app's and the training
configs share (reading, dotted command-line overrides, one-line errors)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from models.errors import first_line

Settings = TypeVar("Settings", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration mistake; one line naming the file and the key."""


def read_mapping(path: Path) -> dict:
    """The file's top-level mapping; a section with every key commented out is an empty one."""
    try:
        loaded = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({first_line(error)})") from None
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
    """Validate; the first problem becomes one line naming the file and the dotted key."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"{name}: {key}: {message}") from None
