"""The requirement files agree with each other and with what each platform can install."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]


def requirements(name: str) -> list[Requirement]:
    lines = (REPO / name).read_text().splitlines()
    return [Requirement(line.split("#")[0]) for line in lines
            if line.split("#")[0].strip() and not line.startswith("-")]


def pins(name: str, python: str) -> dict[str, str]:
    """name -> the exact version pinned for that Python (markers evaluated for it)."""
    found = {}
    for req in requirements(name):
        if req.marker is None or req.marker.evaluate({"python_version": python}):
            (spec,) = req.specifier
            assert spec.operator == "==", f"{name}: {req} is not an exact pin"
            found[canonicalize_name(req.name)] = spec.version
    return found


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.12"])
def test_every_runtime_package_has_one_pin_per_python(python: str) -> None:
    for name in ("requirements.txt", "requirements-jetson.txt"):
        names = [canonicalize_name(r.name) for r in requirements(name)
                 if r.marker is None or r.marker.evaluate({"python_version": python})]
        assert len(names) == len(set(names)), f"{name}: a package pinned twice for {python}"
        assert pins(name, python)


@pytest.mark.parametrize("python", ["3.10", "3.12"])
def test_jetson_pins_are_the_generic_ones_but_opencv_pygobject_and_numpy(python: str) -> None:
    generic, jetson = pins("requirements.txt", python), pins("requirements-jetson.txt", python)
    assert {"opencv-python", "pygobject", "pycairo"}.isdisjoint(jetson)  # JetPack's, apt's
    assert jetson.pop("numpy").startswith("1.")  # JetPack's cv2 is built against numpy 1
    assert {name: generic[name] for name in jetson} == jetson
