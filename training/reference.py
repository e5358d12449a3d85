"""`python -m training config --explain`: every training config key with its type, default and
description, generated from the pydantic models (so the reference cannot drift from the code)."""

from __future__ import annotations

import textwrap
import types
from typing import Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from training.config import Config


def _type_name(annotation: object) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(str(arg) for arg in get_args(annotation))
    if origin in (Union, types.UnionType):
        names = [_type_name(arg) for arg in get_args(annotation) if arg is not type(None)]
        optional = type(None) in get_args(annotation)
        return " | ".join(names) + (" | null" if optional else "")
    if origin is list:
        return f"list of {_type_name(get_args(annotation)[0])}"
    if origin is tuple:
        return "[" + ", ".join(_type_name(arg) for arg in get_args(annotation)) + "]"
    if origin is dict:
        key, value = get_args(annotation)
        return f"{{{_type_name(key)}: {_type_name(value)}}}"
    return {str: "text", int: "integer", float: "number", bool: "true/false"}.get(
        annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field) -> str:
    if field.default is PydanticUndefined:
        return "required"
    value = field.default
    if isinstance(value, BaseModel):
        return ""
    if value is None:
        return "default null"
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, bool):
        value = str(value).lower()
    return f"default {value}"


def explain(model: type[BaseModel] = Config, prefix: str = "") -> str:
    """The reference text: one entry per key, sections first named, then their keys."""
    lines: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = field.annotation if isinstance(field.annotation, type) and issubclass(
            field.annotation, BaseModel) else None
        items = get_args(field.annotation)
        element = items[0] if get_origin(field.annotation) is list and items else None
        if element is not None and isinstance(element, type) and issubclass(element, BaseModel):
            lines.append(f"{key}: a list of entries, each with: {field.description or ''}")
            lines.append(explain(element, f"{key}[].").rstrip("\n"))
            continue
        if nested is not None:
            lines.append(f"\n{key}:  {field.description or ''}".rstrip())
            lines.append(explain(nested, f"{key}.").rstrip("\n"))
            continue
        facts = ", ".join(part for part in (_type_name(field.annotation), _default(field)) if part)
        lines.append(f"  {key} ({facts})")
        if field.description:
            lines.append(textwrap.fill(field.description, 100, initial_indent=" " * 6,
                                       subsequent_indent=" " * 6))
    return "\n".join(lines).lstrip("\n") + "\n"
