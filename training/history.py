"""history.csv: one row of numbers per epoch, read and rewritten crash-safe."""

from __future__ import annotations

import csv
import os
from pathlib import Path


def read_history(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as handle:
        # A column added later (a new metric, a resumed run of older code) is empty in the
        # rows before it: left out of those rows, never a crash at the end of an epoch.
        return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(handle)]


def write_history_row(path: Path, row: dict) -> None:
    """Replace or add the row of this epoch; written to a temp file and renamed (crash-safe)."""
    rows = [r for r in read_history(path) if int(r["epoch"]) != row["epoch"]] + [row]
    rows.sort(key=lambda r: r["epoch"])
    fields = list(dict.fromkeys(k for r in rows for k in r))
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
