"""Read what graders need out of a journal record's transcript."""

from __future__ import annotations

from typing import Any


def final_answer(record: dict[str, Any]) -> str:
    """The last assistant message's text ('' when the model never answered)."""
    for message in reversed(record["messages"]):
        if message["role"] == "assistant":
            return message.get("content") or ""
    return ""


def assistant_texts(record: dict[str, Any]) -> list[str]:
    """Every assistant message's text, in order (multi-turn graders look at all of them)."""
    return [m.get("content") or "" for m in record["messages"] if m["role"] == "assistant"]


def tool_calls(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every tool call the model made, in order: ``{"name", "arguments"}``."""
    calls = []
    for message in record["messages"]:
        for call in message.get("tool_calls") or []:
            calls.append({"name": call.get("name"), "arguments": call.get("arguments") or {}})
    return calls
