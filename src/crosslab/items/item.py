"""Item: one piece of suite content, as it is stored in a suite's data files.

An item says what to send (``messages``, then scripted ``followups``, or an
agent task in an ``environment``), how it is graded (``grading``), and how it
may be disclosed (``tier``). The simple form stays close to public eval
datasets (``input`` as in Inspect and simple-evals; the expected answer is
``expected``, and their ``target`` is accepted for it) so imports are easy.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Tier = Literal["public", "restricted", "withheld"]


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    category: str = "custom"
    slice: str | None = None
    tier: Tier = "public"
    #: How the conversation unfolds: ``single_turn``, ``scripted``, ``agent``, or one a suite registers.
    interaction: str = Field("single_turn", pattern=r"^[a-z][a-z0-9_]*$")
    #: The conversation up to and including the first user turn.
    messages: list[dict[str, Any]]
    #: Scripted interaction: further user turns, each sent after the model's reply.
    followups: list[str] = Field(default_factory=list)
    #: Agent interaction: the tool environment's name and the step limit.
    environment: str | None = None
    max_steps: int = Field(8, ge=1, le=100)
    #: How the grading stage scores this item, e.g. {"type": "includes", "expected": "Paris"}.
    grading: dict[str, Any] = Field(default_factory=dict)
    #: Extra dimensions results are broken down by (e.g. attack transform, harm
    #: category, scenario family). They are public: they appear in bundle stubs.
    facets: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _simple_form(cls, data: Any) -> Any:
        """Accept the simple JSONL form ``{"id", "input", "expected"?}`` (``target`` is accepted for ``expected``)."""
        if isinstance(data, dict) and "input" in data and "messages" not in data:
            data = dict(data)
            text = data.pop("input")
            if not isinstance(text, str):
                raise ValueError("'input' must be a string")
            data["messages"] = [{"role": "user", "content": text}]
            if "expected" in data and "target" in data:
                raise ValueError("give the expected answer as 'expected' or as 'target', not both")
            expected = data.pop("expected") if "expected" in data else data.pop("target", None)
            if expected is not None:
                data["grading"] = {"type": "includes", "expected": expected}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Item:
        if not self.messages or self.messages[-1].get("role") != "user":
            raise ValueError("messages must end with a user turn")
        for m in self.messages:
            if m.get("role") not in ("system", "user", "assistant") or not isinstance(m.get("content"), str):
                raise ValueError("each message needs a role (system/user/assistant) and string content")
        if self.interaction == "scripted" and not self.followups:
            raise ValueError("a scripted item needs followups")
        if self.interaction.startswith("agent") and not self.environment:
            raise ValueError(f"an {self.interaction} item needs an environment")
        return self
