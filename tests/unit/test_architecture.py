"""The layers of docs/architecture.md hold: import-linter's contracts pass, no two modules import each other
in a circle, and a climbing import really breaks the contract (so a green run means something)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# Circles still open, each with the issue that removes it; a new circle fails the test, and so does a listed
# one that is gone (take it off the list). The streams/kafka circle around KafkaRuntime went with 44b7e1b.
KNOWN_CIRCLES: dict[frozenset[str], str] = {}
_RUN_LINT_IMPORTS = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True))"
)


def _lint_imports(pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-c", _RUN_LINT_IMPORTS, str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=pythonpath or ROOT,
        env=env,
        check=False,
    )


def test_layer_contracts_are_kept() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_a_climbing_import_breaks_the_layers(tmp_path: Path) -> None:
    copy = tmp_path / "dana_workflows"
    shutil.copytree(ROOT / "dana_workflows", copy, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    avro = copy / "schemas" / "avro.py"
    avro.write_text(avro.read_text() + "\nfrom dana_workflows.streams import topology  # climbs\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "dana_workflows.schemas.avro -> dana_workflows.streams.topology" in result.stdout


def _circles() -> list[frozenset[str]]:
    graph = grimp.build_graph("dana_workflows")
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_new_import_circles() -> None:
    circles = _circles()
    new = [sorted(c) for c in circles if c not in KNOWN_CIRCLES]
    assert new == [], "modules that import each other in a circle (give the shared part its own module)"
    gone = [sorted(c) for c in KNOWN_CIRCLES if c not in circles]
    assert gone == [], "circles listed in KNOWN_CIRCLES that no longer exist: take them off the list"
