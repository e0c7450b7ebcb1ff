"""A local OpenAI-compatible server with scripted replies and injectable faults (tests, offline example)."""

from dana_workflows.devservices.llm_server.script import Script, load_script
from dana_workflows.devservices.llm_server.server import LLMTestServer, ServerThread

__all__ = ["LLMTestServer", "Script", "ServerThread", "load_script"]
