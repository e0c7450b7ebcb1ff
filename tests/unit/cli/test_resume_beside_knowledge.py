"""`review decide` and `dlq replay` run the resumed events' steps in their own process, next to the audit
store they record in. chdb serves one directory per process, so an embedded audit store opened in that
process left an llm step's embedded knowledge store unopenable ("EmbeddedServer already initialized with
path ...audit"): every replay of a knowledge step failed again, and a failed replay is final
(docs/review.md). The audit store must be served from its writer process, as `dana-wf run` serves it.

Run in a fresh interpreter: chdb's one directory is per process, and this test process may hold one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import sys
from dana_workflows.cli.resume_run import open_writer
from dana_workflows.core.settings import load_settings
from dana_workflows.knowledge.store import KnowledgeStore
from dana_workflows.sinks.stores import open_store

audit_dsn, knowledge_dsn = sys.argv[1], sys.argv[2]
made = open_store(audit_dsn, writer=True)  # the run that came before: its store exists
made.ensure_schema()
made.close()

audit = open_writer(audit_dsn, load_settings())  # what review decide / dlq replay open
knowledge = KnowledgeStore.open(knowledge_dsn)  # what the resumed llm step opens next
knowledge.ensure_schema()
print("knowledge store opened beside the audit store")
knowledge.close()
audit.close()
"""


def test_a_resume_leaves_this_process_free_for_a_steps_embedded_knowledge_store(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, f"chdb://{tmp_path / 'audit'}", f"chdb://{tmp_path / 'knowledge'}"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "knowledge store opened beside the audit store" in done.stdout
