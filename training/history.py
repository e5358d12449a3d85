"""history.csv: one row of numbers per epoch, read and rewritten crash-safe."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from models.atomic import write_atomically


def read_history(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as handle:
        # A column added later (a new metric, a resumed run of older code) is empty in the
        # rows before it: left out of those rows, never a crash at the end of an epoch.
        return [{k: _number(k, v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(handle)]


def _number(key: str, text: str) -> float | int:
    # the epoch stays a whole number, so a rewritten file does not turn "1" into "1.0"
    return int(float(text)) if key == "epoch" else float(text)


def write_history_row(path: Path, row: dict) -> None:
    """Replace or add the row of this epoch; the file is written whole (crash-safe)."""
    rows = [r for r in read_history(path) if r["epoch"] != row["epoch"]] + [row]
    rows.sort(key=lambda r: r["epoch"])
    fields = list(dict.fromkeys(k for r in rows for k in r))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, text.getvalue(), durable=True)
