"""The typed output of an llm step: a pydantic model built from the spec's output fields.

The reply is asked for with a JSON-schema response format where the endpoint supports it (else JSON
mode), and is always validated here: nothing unvalidated reaches the payload.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from dana_workflows.workflow.ir import FieldIR

ResponseMode = Literal["json_schema", "json_object"]

_PY_TYPES: dict[str, type] = {
    "string": str,
    "long": int,
    "int": int,
    "double": float,
    "float": float,
    "boolean": bool,
}
_JSON_TYPES: dict[str, str] = {
    "string": "string",
    "long": "integer",
    "int": "integer",
    "double": "number",
    "float": "number",
    "boolean": "boolean",
}


class OutputError(ValueError):
    """A reply that is not the JSON object the step's output fields describe."""


class _Base(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)


class OutputSpec:
    """The output fields of one step, as a pydantic model and as a strict JSON schema."""

    def __init__(self, fields: tuple[FieldIR, ...], name: str) -> None:
        if not fields:
            raise ValueError(f"llm step {name!r}: 'output' must name at least one field")
        self.fields = fields
        self.name = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64] or "output"
        defs: dict[str, Any] = {}
        for f in fields:
            py: Any = _PY_TYPES[f.type]
            defs[f.name] = (py | None, None) if f.optional else (py, ...)
        self.model: type[BaseModel] = create_model(f"{self.name}_output", __base__=_Base, **defs)
        self.schema: dict[str, Any] = self._json_schema()

    def _json_schema(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for f in self.fields:
            t: Any = _JSON_TYPES[f.type]
            prop: dict[str, Any] = {"type": [t, "null"] if f.optional else t}
            if f.doc:
                prop["description"] = f.doc
            props[f.name] = prop
        # strict structured outputs want every property required and no others
        return {
            "type": "object",
            "properties": props,
            "required": [f.name for f in self.fields],
            "additionalProperties": False,
        }

    def response_format(self, mode: ResponseMode) -> dict[str, Any]:
        if mode == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": self.name, "schema": self.schema, "strict": True},
            }
        return {"type": "json_object"}

    def instruction(self) -> str:
        """Appended to the system prompt: JSON mode needs the word JSON, and every mode needs the shape."""
        return "Reply with only a JSON object, no prose, matching this JSON schema: " + json.dumps(
            self.schema, sort_keys=True
        )

    def nulls(self) -> dict[str, Any]:
        return {f.name: None for f in self.fields}

    def parse(self, text: str | None) -> dict[str, Any]:
        """The validated output fields of a reply, or OutputError saying what is wrong."""
        if not text:
            raise OutputError("the reply is empty")
        body = text.strip()
        if body.startswith("```"):  # some models fence JSON even when told not to
            body = body.strip("`").removeprefix("json").strip()
        try:
            data = json.loads(body)
        except json.JSONDecodeError as exc:
            at = "" if exc.msg.endswith(" at") else " at"  # "Unterminated string starting at": no second "at"
            raise OutputError(f"the reply is not valid JSON ({exc.msg}{at} char {exc.pos})") from exc
        if not isinstance(data, dict):
            raise OutputError(f"the reply is JSON but not an object (got {type(data).__name__})")
        try:
            obj = self.model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
            )
            raise OutputError(f"the reply does not match the output fields ({problems})") from exc
        return {f.name: getattr(obj, f.name) for f in self.fields}

    def repair_messages(self, reply: str | None, error: str) -> list[dict[str, str]]:
        """The two messages of the one repair attempt: the bad reply, and what to fix."""
        return [
            {"role": "assistant", "content": reply or ""},
            {
                "role": "user",
                "content": f"That reply was rejected: {error}. {self.instruction()}",
            },
        ]
