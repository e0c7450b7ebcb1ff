"""The local model launcher without building anything: how it finds the sources on a package index, refuses a
file that is not the pinned one, extracts only the vendored tree, knows a finished build from an interrupted
one, finds the model file without importing its package, and refuses bad start options."""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
from pathlib import Path

import pytest

from dana_workflows.devservices.llama import build, model, server
from dana_workflows.devservices.llama.errors import LocalModelError

pytestmark = pytest.mark.unit


def _sdist(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PEP 503 index on disk, as PIP_INDEX_URL points at it."""
    root = tmp_path / "simple"
    (root / "llama-cpp-python").mkdir(parents=True)
    monkeypatch.setenv("PIP_INDEX_URL", root.as_uri())
    return root


def test_the_sdist_address_is_read_from_the_index_page(index: Path) -> None:
    (index / "llama-cpp-python" / "index.html").write_text(
        "<html><body>"
        '<a href="../../files/llama_cpp_python-0.3.35.tar.gz#sha256=00">older</a>'
        f'<a href="../../files/{build.SDIST_NAME}#sha256={build.SDIST_SHA256}">pinned</a>'
        "</body></html>"
    )
    found = _sdist_url_from(index / "llama-cpp-python" / "index.html")
    assert found == (index.parent / "files" / build.SDIST_NAME).as_uri()  # relative link, fragment dropped


def _sdist_url_from(page: Path) -> str:
    """sdist_url() reads <index>/llama-cpp-python/; on disk that folder's page is its index.html."""
    original = build._fetch
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build, "_fetch", lambda url: original(url + "index.html" if url.endswith("/") else url))
        return build.sdist_url()


def test_an_index_without_the_pinned_file_is_named(index: Path) -> None:
    (index / "llama-cpp-python" / "index.html").write_text('<a href="llama_cpp_python-0.3.35.tar.gz">x</a>')
    with pytest.raises(LocalModelError, match=build.SDIST_NAME):
        _sdist_url_from(index / "llama-cpp-python" / "index.html")


def test_only_http_and_file_addresses_are_fetched() -> None:
    with pytest.raises(LocalModelError, match="only http"):
        build._fetch("ftp://example.invalid/x")


def test_a_file_that_is_not_the_pinned_sdist_is_refused(
    index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    impostor = _sdist(tmp_path / build.SDIST_NAME, {"x/vendor/llama.cpp/CMakeLists.txt": b"project(x)"})
    monkeypatch.setenv("DWF_LLAMA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(build, "sdist_url", lambda: impostor.as_uri())
    monkeypatch.setattr(build.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    digest = hashlib.sha256(impostor.read_bytes()).hexdigest()
    with pytest.raises(LocalModelError, match=f"SHA-256 {digest}, expected {build.SDIST_SHA256}"):
        build.ensure_server_binary(log=lambda _: None)
    assert not build.binary_ready()


def test_only_the_vendored_tree_is_extracted(tmp_path: Path) -> None:
    sdist = _sdist(
        tmp_path / "s.tar.gz",
        {
            "pkg-1/setup.py": b"print()",
            "pkg-1/vendor/llama.cpp/CMakeLists.txt": b"project(llama)",
            "pkg-1/vendor/llama.cpp/vendor/nlohmann/json.hpp": b"//",
        },
    )
    source = build._extract_vendored(sdist, tmp_path / "src")
    assert source == tmp_path / "src" / "pkg-1" / "vendor" / "llama.cpp"
    assert (source / "CMakeLists.txt").read_bytes() == b"project(llama)"
    assert (source / "vendor" / "nlohmann" / "json.hpp").exists()
    assert not (tmp_path / "src" / "pkg-1" / "setup.py").exists()


def test_an_archive_without_the_vendored_tree_is_refused(tmp_path: Path) -> None:
    sdist = _sdist(tmp_path / "s.tar.gz", {"pkg-1/setup.py": b"print()"})
    with pytest.raises(LocalModelError, match=r"vendor/llama\.cpp"):
        build._extract_vendored(sdist, tmp_path / "src")


def test_a_build_counts_as_done_only_with_its_marker_and_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_LLAMA_HOME", str(tmp_path))
    assert not build.binary_ready()
    build.server_binary().parent.mkdir(parents=True)
    build.server_binary().write_bytes(b"\x7fELF")
    assert not build.binary_ready()  # an interrupted build: no marker
    (tmp_path / ".dwf-complete").write_text("0" * 64 + "\n")
    assert not build.binary_ready()  # built from other sources
    (tmp_path / ".dwf-complete").write_text(build.SDIST_SHA256 + "\n")
    assert build.binary_ready()
    assert build.ensure_server_binary(log=lambda _: None) == build.server_binary()


def test_the_model_file_is_found_without_importing_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / model.MODEL_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('llm is not installed')\n")
    (package / model.MODEL_FILE).write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, model.MODEL_PACKAGE, raising=False)
    assert model.model_path() == package / model.MODEL_FILE
    assert model.ensure_model(log=lambda _: None) == package / model.MODEL_FILE


def test_a_package_without_the_model_file_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / model.MODEL_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, model.MODEL_PACKAGE, raising=False)
    assert model.model_path() is None


@pytest.mark.parametrize(("ctx_size", "parallel"), [(4096, 0), (256, 2), (100, 1)])
def test_slots_without_room_are_refused_before_anything_starts(
    tmp_path: Path, ctx_size: int, parallel: int
) -> None:
    with pytest.raises(LocalModelError, match="each slot needs at least 256 tokens"):
        server.up(1, tmp_path, ctx_size=ctx_size, parallel=parallel, log=lambda _: None)
    assert not any(tmp_path.iterdir())


def test_status_and_down_without_a_server(tmp_path: Path) -> None:
    state = server.status(tmp_path)
    assert (state.running, state.healthy, state.info) == (False, False, None)
    assert server.down(tmp_path) is False
