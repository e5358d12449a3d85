"""A failed test in a full temp folder says so in its report: a person with a small /tmp sees
the cause, not only an error of the code under test (loaded by tests/conftest.py)."""

from __future__ import annotations

import shutil
import tempfile

import pytest

# What the whole suite needs in TMPDIR at its peak (README); a full temp folder says so.
TEMP_NEEDED_GB = 1.5
FULL_BELOW_MB = 64


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed:
        folder = tempfile.gettempdir()
        free_mb = shutil.disk_usage(folder).free / 2**20
        if free_mb < FULL_BELOW_MB or "No space left on device" in report.longreprtext:
            total_mb = shutil.disk_usage(folder).total / 2**20
            report.sections.append((
                "temp folder full",
                f"{folder} has {free_mb:.0f} MB free of {total_mb:.0f} MB: this failure may be "
                f"the full disk; the suite needs {TEMP_NEEDED_GB} GB there (set TMPDIR to a "
                f"larger folder)"))
    return report
