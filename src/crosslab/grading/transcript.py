"""Read what graders need out of a journal record's transcript."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def final_answer(record: Mapping[str, Any]) -> str:
    """The last assistant message's text ('' when the model never answered)."""
    for message in reversed(record["messages"]):
        if message["role"] == "assistant":
            return message.get("content") or ""
    return ""


def assistant_texts(record: Mapping[str, Any]) -> list[str]:
    """Every assistant message's text, in order (multi-turn graders look at all of them)."""
    return [m.get("content") or "" for m in record["messages"] if m["role"] == "assistant"]


def tool_calls(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every tool call the model made, in order: ``{"name", "arguments"}``."""
    calls = []
    for message in record["messages"]:
        for call in message.get("tool_calls") or []:
            calls.append({"name": call.get("name"), "arguments": call.get("arguments") or {}})
    return calls


@dataclass(frozen=True, slots=True)
class Transcript:
    """What a grader written with the public API (``crosslab.grader``) sees of one sample.

    A read-only view of a journal record: the conversation (``messages``, in the
    provider-neutral shape of ``crosslab.targets.base``) and, for agent items,
    the ``agent`` extras the interaction recorded (e.g. the environment's final
    state). Build one from a record with ``Transcript.from_record``, or directly
    from messages in a grader's unit test.
    """

    messages: Sequence[dict[str, Any]]  # a tuple of copies once built
    agent: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Own copies, so a grader can neither change the record nor be changed by it.
        object.__setattr__(self, "messages", tuple(copy.deepcopy(dict(m)) for m in self.messages))
        object.__setattr__(self, "agent", copy.deepcopy(dict(self.agent)))

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Transcript:
        """The transcript of a journal record (a dict with ``messages`` and, for agents, ``agent``)."""
        return cls(record["messages"], record.get("agent") or {})

    @property
    def final_answer(self) -> str:
        """The last assistant message's text ('' when the model never answered)."""
        return final_answer({"messages": self.messages})

    @property
    def assistant_texts(self) -> tuple[str, ...]:
        """Every assistant message's text, in order."""
        return tuple(assistant_texts({"messages": self.messages}))

    @property
    def tool_calls(self) -> tuple[dict[str, Any], ...]:
        """Every tool call the model made, in order: ``{"name", "arguments"}``."""
        return tuple(tool_calls({"messages": self.messages}))
