"""The report of `python -m training benchmark`: its JSON form, the terminal and Markdown
tables, and the machine it ran on."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training.benchmark_app import AppRow
from training.benchmark_rows import Row


@dataclass
class Report:
    bundle: dict[str, Any]
    split: dict[str, Any]
    machine: dict[str, Any]
    reference: str | None
    macs_per_frame: int | None
    macs_from: str
    rows: list[Row] = field(default_factory=list)
    app_rows: list[AppRow] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.2f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


ENGINE_COLUMNS = ("format", "backend", "device", "precision", "MB", "p50 ms", "p95 ms",
                  "frames/s", "GMAC/s", "mIoU", "global acc", "= reference")
APP_COLUMNS = ("app (clip, headless, recording)", "device", "precision", "frames/s",
               "vs engine", "GMAC/s", "window s", "infer p50 ms", "note")


def table_cells(report: Report) -> tuple[list[list[str]], list[list[str]]]:
    engines = [[r.format, r.backend, r.device, r.precision, _mb(r.file_bytes),
                _num(r.p50_ms), _num(r.p95_ms), _num(r.fps, 2), _num(r.gmacs, 2),
                _pct(r.miou), _pct(r.global_accuracy), _num(r.agreement, 4)]
               for r in report.rows]
    apps = [[r.key, r.device, r.precision, _num(r.fps, 2), _num(r.vs_engine, 2),
             _num(r.gmacs, 2), _num(r.window_s), _num(r.infer_p50_ms), r.note]
            for r in report.app_rows]
    return engines, apps


def terminal_table(header: tuple[str, ...], cells: list[list[str]]) -> str:
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def markdown_table(header: tuple[str, ...], cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def summary(report: Report) -> str:
    b, s, m = report.bundle, report.split, report.machine
    macs = (f"{report.macs_per_frame / 1e9:.3f} GMAC per frame ({report.macs_from})"
            if report.macs_per_frame else f"MACs not counted: {report.macs_from}")
    return (f"{b['name']} ({b['input']}, {b['classes']} classes) on {s['split']} of {s['data']} "
            f"({s['samples']} images); {m['cpu']}, {m['cores']} cores, load average "
            f"{m['load_start']:.1f} -> {m['load_end']:.1f}; reference: "
            f"{report.reference or 'none'}; {macs}")


def render_terminal(report: Report) -> str:
    engines, apps = table_cells(report)
    parts = [summary(report), "", terminal_table(ENGINE_COLUMNS, engines)]
    if apps:
        parts += ["", terminal_table(APP_COLUMNS, apps)]
    parts += [f"skipped {s['row']}: {s['reason']}" for s in report.skipped]
    return "\n".join(parts)


def render_markdown(report: Report) -> str:
    engines, apps = table_cells(report)
    parts = [summary(report), "", markdown_table(ENGINE_COLUMNS, engines)]
    if apps:
        parts += ["", markdown_table(APP_COLUMNS, apps)]
    if report.skipped:
        parts += [""] + [f"- skipped {s['row']}: {s['reason']}" for s in report.skipped]
    return "\n".join(parts) + "\n"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "platform": platform.platform(),
            "python": platform.python_version(), "load_start": os.getloadavg()[0]}
