"""The built wheel installs one top-level package, `dana_workflows`, and works next to packages named
`workflow` and `schemas` (both exist on PyPI): in a fresh virtual environment it runs the claims example
while `import workflow` and `import schemas` still give the other packages."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 300


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, check=False)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _namesake(where: Path, name: str) -> Path:
    """A tiny distribution whose one package is called `name`, like PyPI's `workflow` and `schemas`."""
    project = where / f"namesake-{name}"
    (project / name).mkdir(parents=True)
    (project / name / "__init__.py").write_text(f'WHO = "the other {name} package"\n')
    (project / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "9.9.9"
        [tool.setuptools]
        packages = ["{name}"]
        """)
    )
    return project


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(
        sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, ROOT
    )  # isolated: setuptools>=74.1
    (built,) = out.glob("dana_workflows-*.whl")
    return built


def test_the_wheel_holds_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"dana_workflows"}
    # the rooms arrive as real files, not as links, with their data files
    assert "dana_workflows/sinks/verify.py" in names
    assert "dana_workflows/devservices/kafka/pom.xml" in names
    assert any(n.startswith("dana_workflows/schemas/avsc/") for n in names)


def test_the_wheel_runs_the_example_next_to_workflow_and_schemas(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # The dependencies (chdb, faust, ...) come from this interpreter's site-packages; the venv's own
    # site-packages come first, so its dana_workflows, workflow and schemas are the ones imported.
    _run(sys.executable, "-m", "venv", "--system-site-packages", venv)
    python = venv / "bin" / "python"
    for name in ("workflow", "schemas"):
        _run(python, "-m", "pip", "install", "-q", "--no-deps", _namesake(tmp_path, name))
    _run(python, "-m", "pip", "install", "-q", "--no-deps", wheel)

    probe = _run(
        python,
        "-c",
        "import json, workflow, schemas, dana_workflows, dana_workflows.workflow.spec as spec; "
        "print(json.dumps([workflow.WHO, schemas.WHO, dana_workflows.__file__, spec.__file__]))",
        cwd=tmp_path,
    )
    other_workflow, other_schemas, package, spec_module = json.loads(probe)
    assert other_workflow == "the other workflow package"
    assert other_schemas == "the other schemas package"
    assert package.startswith(str(venv)) and spec_module.startswith(str(venv))

    events = tmp_path / "events.jsonl"
    lines = (ROOT / "docs/examples/claims/events.jsonl").read_text().splitlines()[:EVENTS]
    events.write_text("\n".join(lines) + "\n")
    out = _run(
        venv / "bin" / "dana-wf",
        "run",
        ROOT / "docs/examples/claims/claims.yaml",
        "--input",
        events,
        "--audit",
        f"chdb://{tmp_path / 'audit'}",
        "--out",
        tmp_path / "out",
        cwd=tmp_path,
    )
    written = sum(
        len((tmp_path / "out" / f"dwf.claims-triage.{end}.jsonl").read_text().splitlines())
        for end in ("out", "rejected", "dlq")
    )
    assert written == EVENTS, out  # every input line has exactly one outcome
    assert "hash chains verified" in out


def test_the_wheel_carries_the_apache_license(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    licenses = [n for n in archive.namelist() if ".dist-info/" in n and n.rsplit("/", 1)[-1] == "LICENSE"]
    assert licenses, "LICENSE is not in the wheel's dist-info"
    text = archive.read(licenses[0]).decode()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert text == (ROOT / "LICENSE").read_text()
