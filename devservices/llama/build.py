"""Build llama.cpp's ``llama-server`` once, from the sources inside a pinned ``llama-cpp-python`` sdist.

Why this way: no prebuilt llama.cpp binary can be fetched here (only package registries are reachable), but
PyPI's ``llama-cpp-python`` source distribution vendors the whole llama.cpp tree. We fetch that one file from
the package index (its simple page, PEP 503; ``pip download`` would build the whole Python package just to
read its metadata), check its pinned SHA-256, and build only the server target with CMake: the web UI off
(nothing downloaded during the build), no OpenSSL, static libraries, one binary. The result is cached under
``~/.cache/dana-wf/llama/<version>/bin/llama-server`` (or ``$DWF_LLAMA_HOME``); a marker written last records
completion, so an interrupted build never leaves a cache that looks usable. ~7 minutes on 2 idle cores.
"""

from __future__ import annotations

import hashlib
import html.parser
import os
import shutil
import ssl
import subprocess
import tarfile
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from dana_workflows.devservices.llama.errors import LocalModelError

# The source distribution whose vendored llama.cpp is built, and its digest (PyPI's, checked on download).
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
SDIST_NAME = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
DEFAULT_INDEX = "https://pypi.org/simple"
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",  # the web UI would be fetched from the network
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",  # loopback only
    "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary
    "-DGGML_NATIVE=OFF",  # the cache may be copied to another machine of the same architecture
)
_MARKER = ".dwf-complete"
_VENDORED = "vendor/llama.cpp/"

Log = Callable[[str], None]


def llama_home() -> Path:
    """Where the built server is cached: ``$DWF_LLAMA_HOME`` or ``~/.cache/dana-wf/llama/<version>``."""
    override = os.environ.get("DWF_LLAMA_HOME")
    if override:
        return Path(override).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "dana-wf" / "llama" / LLAMA_CPP_PYTHON_VERSION


def server_binary() -> Path:
    return llama_home() / "bin" / "llama-server"


def binary_ready() -> bool:
    """A finished build of the pinned sources is cached (its marker names the sdist's digest)."""
    marker = llama_home() / _MARKER
    try:
        built_from = marker.read_text(errors="replace").strip()
    except OSError:
        return False
    return built_from == SDIST_SHA256 and server_binary().is_file()


def ensure_server_binary(log: Log = print, jobs: int | None = None) -> Path:
    """The cached ``llama-server``, built first when missing (sources fetched, checked, compiled)."""
    if binary_ready():
        return server_binary()
    for tool in ("cmake", "c++", "make"):
        if shutil.which(tool) is None:
            raise LocalModelError(
                f"building llama-server needs {tool}; install it (apt-get install cmake build-essential)"
            )
    home = llama_home()
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dwf-llama-", dir=home) as tmp:
        work = Path(tmp)
        sdist = work / SDIST_NAME
        log(f"fetching {SDIST_NAME} from the package index")
        _download(sdist_url(), sdist)
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != SDIST_SHA256:
            raise LocalModelError(
                f"{SDIST_NAME} has SHA-256 {digest}, expected {SDIST_SHA256}: the index served another file; "
                "check PIP_INDEX_URL"
            )
        source = _extract_vendored(sdist, work / "src")
        build = work / "build"
        cpus = jobs or os.cpu_count() or 2
        log(f"building llama-server with CMake ({cpus} jobs; a few minutes, once)")
        _run(["cmake", "-S", str(source), "-B", str(build), *CMAKE_OPTIONS], work / "cmake.log")
        _run(
            ["cmake", "--build", str(build), "--target", "llama-server", "-j", str(cpus)],
            work / "build.log",
        )
        built = next(build.rglob("llama-server"), None)
        if built is None or not built.is_file():
            raise LocalModelError(f"the build finished without a llama-server binary under {build}")
        target = server_binary()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)
        (home / _MARKER).write_text(SDIST_SHA256 + "\n")
    log(f"llama-server built: {server_binary()}")
    return server_binary()


def index_url() -> str:
    """The package index pip uses here (PIP_INDEX_URL), else PyPI's simple API."""
    return (os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX).rstrip("/")


def sdist_url() -> str:
    """The sdist's address, read from the index's simple page for the project (PEP 503)."""
    page_url = f"{index_url()}/llama-cpp-python/"
    page = _fetch(page_url).decode("utf-8", errors="replace")
    for href in _links(page):
        if urllib.parse.urlsplit(href).path.rsplit("/", 1)[-1] == SDIST_NAME:
            return urllib.parse.urljoin(page_url, href).split("#", 1)[0]
    raise LocalModelError(f"{page_url} lists no {SDIST_NAME}; is the package index reachable and complete?")


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(v for k, v in attrs if k == "href" and v)


def _links(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    return parser.hrefs


def _context() -> ssl.SSLContext:
    cafile = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=cafile if cafile and Path(cafile).is_file() else None)


def _fetch(url: str) -> bytes:
    if urllib.parse.urlsplit(url).scheme not in ("https", "http", "file"):
        raise LocalModelError(f"refusing to fetch {url}: only http(s) and file URLs")
    try:
        with urllib.request.urlopen(url, timeout=300, context=_context()) as reply:
            data: bytes = reply.read()
            return data
    except OSError as exc:
        raise LocalModelError(f"cannot fetch {url} ({exc}); is the package index reachable?") from None


def _download(url: str, target: Path) -> None:
    target.write_bytes(_fetch(url))


def _extract_vendored(sdist: Path, into: Path) -> Path:
    """Only the vendored llama.cpp tree, with no member allowed outside ``into`` (tarfile's data filter)."""
    with tarfile.open(sdist, "r:gz") as archive:
        names = archive.getnames()
        root = names[0].split("/", 1)[0] if names else ""
        prefix = f"{root}/{_VENDORED}"
        members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
        if not members:
            raise LocalModelError(f"{sdist.name} holds no {_VENDORED}: not the expected source distribution")
        archive.extractall(into, members=members, filter="data")
    return into / prefix


def _run(cmd: list[str], log_file: Path) -> None:
    with log_file.open("wb") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
        raise LocalModelError(f"{' '.join(cmd[:3])} failed (exit {done.returncode}):\n{tail}")
