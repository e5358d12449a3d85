"""segcam's version, for `segcam --version`, the start-up log line, /api/stats and /metrics.

The pyproject.toml beside this code wins when there is one (a checkout, or an editable install:
its metadata is only as new as the last `pip install -e .`); else the installed package's
metadata; else "unknown" (the code copied somewhere without either).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from pathlib import Path

DISTRIBUTION = "segcam"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
UNKNOWN = "unknown"


@lru_cache(maxsize=1)
def version() -> str:
    return (pyproject_version(PYPROJECT) or _installed_version() or UNKNOWN)


def pyproject_version(path: Path) -> str | None:
    """`version` of the [project] table, when that project is segcam (tomllib is 3.11+)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    table = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if table is None:
        return None
    fields = dict(re.findall(r'^(name|version)\s*=\s*"([^"]+)"', table.group(1), re.M))
    return fields.get("version") if fields.get("name") == DISTRIBUTION else None


def _installed_version() -> str | None:
    try:
        return distribution_version(DISTRIBUTION)
    except PackageNotFoundError:
        return None
