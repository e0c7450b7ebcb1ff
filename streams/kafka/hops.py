"""Where the Kafka worker keeps a topic between steps: the layout's one rule, read by the step agents (which
hops they consume) and the drift agent (which hop partitions send drift values), in a module of its own so
neither imports the other."""

from __future__ import annotations

from dana_workflows.processors.pipeline import ENTRY, Pipeline
from dana_workflows.workflow.ir import LLMStepIR


def hop_boundaries(pipeline: Pipeline, fuse: bool, llm_hops: bool) -> frozenset[str]:
    """The boundaries that stay topics between steps: every step's input in the per-step layout; fused,
    the input, and with ``llm_hops`` the input of each llm step too."""
    if not fuse:
        return frozenset(pipeline.consumers)
    llm = {node.input for node in pipeline.nodes.values() if isinstance(node.step, LLMStepIR)}
    return frozenset({ENTRY, *(llm if llm_hops else ())})
