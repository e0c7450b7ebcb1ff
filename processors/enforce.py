"""enforce: the objective's constraints, compiled into the last filter stage of the pipeline.

Same semantics as validate; its own kind so audits can tell objective violations from step rules.
"""

from __future__ import annotations

from dana_workflows.processors.validate import ValidateProcessor
from dana_workflows.workflow.ir import EnforceStepIR


class EnforceProcessor(ValidateProcessor):
    kind = "enforce"

    def __init__(self, step: EnforceStepIR) -> None:
        super().__init__(step)
