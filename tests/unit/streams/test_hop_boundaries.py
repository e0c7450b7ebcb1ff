"""Where the Kafka worker keeps a topic between steps (streams/kafka/hops.py ``hop_boundaries``): fused,
only the input; per step, every step's input; fused with ``--llm-hops``, also each llm step's input."""

from __future__ import annotations

import pytest

from dana_workflows.processors.pipeline import ENTRY, compile_pipeline
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.hops import hop_boundaries
from dana_workflows.workflow.spec import parse_spec
from tests.integration.kafka_support import CLAIMS_SPEC

pytestmark = pytest.mark.unit

LLM_SPEC = """
workflow: risk
version: 1
input: {claim_id: string, description: string}
steps:
  - tidy:
      transform:
        set: {description: "trim(description)"}
  - assess:
      llm:
        prompt: "Claim {{ claim_id }}: {{ description }}"
        output: {risk: string}
  - check:
      validate: [{id: known_risk, rule: "risk == null || risk in ['low', 'high']"}]
"""


def test_fused_keeps_only_the_input_and_per_step_keeps_every_steps_input() -> None:
    pipeline = load_pipeline(CLAIMS_SPEC)
    assert hop_boundaries(pipeline, fuse=True, llm_hops=False) == {ENTRY}
    per_step = hop_boundaries(pipeline, fuse=False, llm_hops=False)
    assert per_step == set(pipeline.consumers) and len(per_step) == len(pipeline.nodes) > 1


def test_llm_hops_stop_the_chain_before_each_llm_step() -> None:
    pipeline = compile_pipeline(parse_spec(LLM_SPEC, file="risk.yaml"))
    assess = pipeline.nodes["assess"]
    assert hop_boundaries(pipeline, fuse=True, llm_hops=True) == {ENTRY, assess.input}
    assert assess.input != ENTRY
    assert hop_boundaries(pipeline, fuse=True, llm_hops=False) == {ENTRY}
