"""The llama-server build without compiling: ``ensure_server_binary`` with the download and CMake replaced at
their seams (build._download, build._run), so its documented steps can be checked one by one: the pinned
sdist fetched into a temporary folder under the cache, its digest checked, only the vendored tree extracted,
CMake configured with the project's options and asked for the one target, the binary copied into
``<home>/bin`` and the marker written last. ``_run`` itself runs a real (Python) command.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

from dana_workflows.devservices.llama import build
from dana_workflows.devservices.llama.errors import LocalModelError

pytestmark = pytest.mark.unit


def _sdist_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        for name, data in (
            ("llama_cpp_python-0.3.36/vendor/llama.cpp/CMakeLists.txt", b"project(llama)"),
            ("llama_cpp_python-0.3.36/setup.py", b"pass"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Builder:
    """Stands in for the download and for CMake: records the commands, makes the binary on --build."""

    def __init__(self, make_binary: bool = True) -> None:
        self.sdist = _sdist_bytes()
        self.downloads: list[tuple[str, Path]] = []
        self.runs: list[tuple[list[str], Path]] = []
        self.make_binary = make_binary

    def download(self, url: str, target: Path) -> None:
        self.downloads.append((url, target))
        target.write_bytes(self.sdist)

    def run(self, cmd: list[str], log_file: Path) -> None:
        self.runs.append((cmd, log_file))
        assert (log_file.parent / build.SDIST_NAME).is_file()  # built inside the work folder
        if "--build" in cmd and self.make_binary:
            out = Path(cmd[cmd.index("--build") + 1]) / "bin" / "llama-server"
            out.parent.mkdir(parents=True)
            out.write_bytes(b"\x7fELF built")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DWF_LLAMA_HOME", str(tmp_path / "llama"))
    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(
        build, "sdist_url", lambda: "https://index.example/files/llama_cpp_python-0.3.36.tar.gz"
    )
    return tmp_path / "llama"


def _use(builder: Builder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "_download", builder.download)
    monkeypatch.setattr(build, "_run", builder.run)
    monkeypatch.setattr(build, "SDIST_SHA256", hashlib.sha256(builder.sdist).hexdigest())


def test_a_build_fetches_checks_configures_compiles_and_caches(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = Builder()
    _use(builder, monkeypatch)
    messages: list[str] = []
    out = build.ensure_server_binary(log=messages.append, jobs=3)

    assert out == home / "bin" / "llama-server"
    assert out.read_bytes() == b"\x7fELF built"
    assert (home / ".dwf-complete").read_text() == hashlib.sha256(builder.sdist).hexdigest() + "\n"
    assert build.binary_ready()
    assert sorted(p.name for p in home.iterdir()) == [".dwf-complete", "bin"]  # the work folder is gone

    [(url, sdist)] = builder.downloads
    assert url == "https://index.example/files/llama_cpp_python-0.3.36.tar.gz"
    work = sdist.parent
    assert sdist.name == "llama_cpp_python-0.3.36.tar.gz"
    assert work.parent == home and work.name.startswith("dwf-llama-")
    [(configure, configure_log), (compile_, compile_log)] = builder.runs
    source = work / "src" / "llama_cpp_python-0.3.36" / "vendor" / "llama.cpp"
    assert configure == ["cmake", "-S", str(source), "-B", str(work / "build"), *build.CMAKE_OPTIONS]
    assert configure_log == work / "cmake.log"
    assert compile_ == ["cmake", "--build", str(work / "build"), "--target", "llama-server", "-j", "3"]
    assert compile_log == work / "build.log"
    assert messages == [
        "fetching llama_cpp_python-0.3.36.tar.gz from the package index",
        "building llama-server with CMake (3 jobs; a few minutes, once)",
        f"llama-server built: {home / 'bin' / 'llama-server'}",
    ]
    # once built, nothing is fetched or compiled again
    assert build.ensure_server_binary(log=messages.append) == out
    assert len(builder.downloads) == 1


def test_jobs_default_to_the_cpu_count_or_two(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builder = Builder()
    _use(builder, monkeypatch)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    build.ensure_server_binary(log=lambda _: None)
    assert builder.runs[1][0][-2:] == ["-j", "2"]
    (home / ".dwf-complete").unlink()
    monkeypatch.setattr(os, "cpu_count", lambda: 5)
    build.ensure_server_binary(log=lambda _: None)
    assert builder.runs[3][0][-2:] == ["-j", "5"]


def test_a_build_without_the_binary_is_an_error_and_leaves_no_cache(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = Builder(make_binary=False)
    _use(builder, monkeypatch)
    with pytest.raises(LocalModelError) as err:
        build.ensure_server_binary(log=lambda _: None)
    work = builder.downloads[0][1].parent
    assert str(err.value) == f"the build finished without a llama-server binary under {work / 'build'}"
    assert not build.binary_ready()
    assert not (home / ".dwf-complete").exists()
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("missing", ["cmake", "c++", "make"])
def test_each_build_tool_is_required_by_name(
    home: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    builder = Builder()
    _use(builder, monkeypatch)
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == missing else f"/usr/bin/{tool}")
    with pytest.raises(LocalModelError) as err:
        build.ensure_server_binary(log=lambda _: None)
    assert str(err.value) == (
        f"building llama-server needs {missing}; install it (apt-get install cmake build-essential)"
    )
    assert builder.downloads == []


# -- _run: a real command ------------------------------------------------------------------------------


def test_run_keeps_the_output_in_its_log(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    build._run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"], log)
    assert sorted(log.read_text().split()) == ["err", "out"]


def test_a_failing_command_names_itself_and_shows_the_last_30_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    script = "for i in range(40): print(f'line {i}')\nraise SystemExit(3)"
    with pytest.raises(LocalModelError) as err:
        build._run([sys.executable, "-c", script, "extra-arg"], log)
    lines = "\n".join(f"line {i}" for i in range(10, 40))
    assert str(err.value) == f"{sys.executable} -c {script} failed (exit 3):\n{lines}"


# -- where things are ----------------------------------------------------------------------------------


def test_the_cache_folder_and_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DWF_LLAMA_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert build.llama_home() == tmp_path / "cache" / "dana-wf" / "llama" / "0.3.36"
    assert (
        build.server_binary() == tmp_path / "cache" / "dana-wf" / "llama" / "0.3.36" / "bin" / "llama-server"
    )
    monkeypatch.setenv("DWF_LLAMA_HOME", "~/llama-here")
    assert build.llama_home() == Path.home() / "llama-here"
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    assert build.index_url() == "https://pypi.org/simple"
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple/")
    assert build.index_url() == "https://mirror.example/simple"
