"""One direction of imports: `app/` and `training/` import `models/`, never each other, and
`models/` imports neither (nor TensorFlow, which only training has). `segcam_cli/` (the `segcam`
command) may import all three, and none of them imports it.

Every module's source is parsed with `ast`, so imports inside functions count, and so do
`importlib.import_module("...")`, `__import__("...")` and `runpy.run_module("...")` with a string
literal. A command line naming another package (`python -m training convert`, run by
`python -m models convert`) is a subprocess, not an import, and is not looked at.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TENSORFLOW = {"tensorflow", "tf_keras", "keras", "segmentation_models", "tf2onnx"}
FORBIDDEN: dict[str, set[str]] = {
    "models": {"app", "training", "segcam_cli", *TENSORFLOW},
    "training": {"app", "segcam_cli"},
    "app": {"training", "segcam_cli", *TENSORFLOW},
}
DYNAMIC = {"import_module", "__import__", "run_module"}


def imported(tree: ast.AST, package_parts: list[str]) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in a module, however it is written."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.lineno, (node.module or "").split(".")[0]))
            else:  # relative: climbs from the module's own package, never out of its top one
                base = package_parts[: len(package_parts) - node.level + 1]
                found.append((node.lineno, (base or package_parts)[0]))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            first = node.args[0]
            if name in DYNAMIC and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((node.lineno, first.value.split(".")[0]))
    return found


def back_arrows(root: Path) -> list[str]:
    """`file:line imports name` for each import against the direction, in a checkout."""
    wrong = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            parts = list(relative.with_suffix("").parts)
            package_parts = parts if path.name == "__init__.py" else parts[:-1]
            tree = ast.parse(path.read_text(), filename=str(path))
            for line, name in imported(tree, package_parts):
                if name in forbidden:
                    wrong.append(f"{relative}:{line} imports {name}")
    return wrong


def test_no_import_goes_against_the_direction() -> None:
    assert back_arrows(ROOT) == []


@pytest.mark.parametrize("source", [
    "from training.framework import tf\n",
    "import app.engines\n",
    "def convert():\n    from app.engines.base import EngineError\n",
    "import importlib\nengine = importlib.import_module('app.engines')\n",
    "from importlib import import_module\nm = import_module('training.convert')\n",
    "m = __import__('training')\n",
    "import runpy\nrunpy.run_module('training', run_name='__main__')\n",
    "class X:\n    def f(self):\n        import tensorflow as tf\n",
])
def test_every_way_of_importing_is_seen(tmp_path: Path, source: str) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "sneaky.py").write_text(source)
    assert len(back_arrows(tmp_path)) == 1


def test_relative_imports_stay_in_their_package(tmp_path: Path) -> None:
    (tmp_path / "app" / "sources").mkdir(parents=True)
    (tmp_path / "app" / "sources" / "gst.py").write_text("from ..config import X\nfrom . import v4l2\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "bundle.py").write_text("import numpy\nfrom models.palette import p\n")
    assert back_arrows(tmp_path) == []
