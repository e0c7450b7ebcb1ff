"""The Dockerfile's structure (no Docker engine here): stages, pinned base, non-root user, entrypoint."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dana_workflows.core.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "cmake", "clang", "python3-dev", "libc6-dev", "git")


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) with continuations joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def parse() -> tuple[dict[str, str], list[Stage]]:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in instructions((ROOT / "Dockerfile").read_text()):
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert match, f"cannot read FROM {rest}"
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], match[1])
            parent = next((s for s in stages if s.name == image), None)
            if parent is not None:  # FROM an earlier stage: its base and its instructions carry over
                stages.append(Stage(parent.image, match[2], list(parent.instructions)))
            else:
                stages.append(Stage(image, match[2]))
        elif not stages and keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def test_multi_stage_with_a_pinned_base() -> None:
    _, stages = parse()
    assert len(stages) >= 2
    names = [s.name for s in stages]
    assert len(set(names)) == len(names) and all(names)
    for stage in stages:
        assert not stage.image.endswith(":latest") and ":" in stage.image, stage.image
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", stage.image), (
            stage.image
        )


def test_final_stage_runs_dana_wf_as_non_root() -> None:
    _, stages = parse()
    final = stages[-1]
    (user,) = final.all("USER")
    uid = user.split(":")[0]
    assert uid not in ("root", "0")
    assert uid.isdigit(), "a numeric USER lets Kubernetes' runAsNonRoot verify it"
    (entrypoint,) = final.all("ENTRYPOINT")
    command = json.loads(entrypoint)  # exec form: signals reach the process
    assert command[-1] == "dana-wf"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "dana-wf" in scripts
    # the chart runs the same uid: keep the two in step
    values = (ROOT / "helm" / "dana-workflows" / "values.yaml").read_text()
    assert f"runAsUser: {uid}" in values


def test_no_build_tools_in_the_final_image() -> None:
    _, stages = parse()
    final = stages[-1]
    for run in final.all("RUN"):
        installed = re.findall(r"apt-get install[^&;|]*", run)
        for chunk in installed:
            for tool in BUILD_TOOLS:
                assert not re.search(rf"(?<![\w-]){re.escape(tool)}(?![\w-])", chunk), (
                    f"{tool} in the final stage"
                )
        assert "pip install" not in run, "install in the build stage and copy the venv"
    copies_from = [c for c in final.all("COPY") if c.startswith("--from=")]
    assert any(f"--from={stages[0].name}" in c for c in copies_from)
    build = stages[0]
    assert any(re.search(r"pip (--python \S+ )?install (--\S+ )*\.(\s|$)", run) for run in build.all("RUN"))


def test_copied_sources_exist_and_are_not_dockerignored() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    _, stages = parse()
    for stage in stages:
        for copy in stage.all("COPY"):
            parts = [p for p in copy.split() if not p.startswith("--")]
            if any(p.startswith("--from=") for p in copy.split()):
                continue
            for source in parts[:-1]:
                path = source.rstrip("/")
                assert (ROOT / path).exists(), f"COPY {source}: no such file in the repository"
                for pattern in ignored:
                    assert not fnmatch.fnmatch(path, pattern.rstrip("/")), (
                        f".dockerignore drops {source} ({pattern})"
                    )
    for needed in ("**/.git", "**/.dwf", "tests/", "**/__pycache__", "**/.env"):
        assert needed in ignored, f".dockerignore should exclude {needed}"


def test_exposes_the_metrics_port_and_writable_state() -> None:
    _, stages = parse()
    final = stages[-1]
    assert final.all("EXPOSE") == [str(Settings.model_fields["metrics_port"].default)]
    env = " ".join(final.all("ENV"))
    assert "DWF_DATA_DIR=/var/lib/dana-wf" in env
    assert any("/var/lib/dana-wf" in v for v in final.all("VOLUME"))
    (healthcheck,) = final.all("HEALTHCHECK")
    assert "/healthz" in healthcheck
