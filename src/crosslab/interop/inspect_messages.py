"""Chat messages between crosslab's form and Inspect's ChatMessage classes, both ways, losslessly for
what both sides have: role, text, tool calls (id, function, arguments) and tool results.

Crosslab keeps messages as plain dicts (``targets/base.py``): ``{"role", "content"}``,
assistant ``tool_calls`` as ``{"id", "name", "arguments"}`` and tool replies with
``tool_call_id`` and ``name``. Inspect content may be a list of parts (text,
reasoning, images); an import keeps the text parts and says so in the message's
``dropped`` field when anything else was there, rather than silently losing it.
"""

from __future__ import annotations

from typing import Any

from crosslab.interop.errors import InteropError


def to_inspect(message: dict[str, Any]) -> Any:
    from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageTool, ChatMessageUser
    from inspect_ai.tool import ToolCall

    role, content = message.get("role"), message.get("content") or ""
    if role == "system":
        return ChatMessageSystem(content=content)
    if role == "user":
        return ChatMessageUser(content=content)
    if role == "assistant":
        calls = [ToolCall(id=str(c.get("id")), function=str(c.get("name")), arguments=dict(c.get("arguments") or {}))
                 for c in message.get("tool_calls") or []]
        return ChatMessageAssistant(content=content, tool_calls=calls or None)
    if role == "tool":
        return ChatMessageTool(content=content, tool_call_id=message.get("tool_call_id"), function=message.get("name"))
    raise InteropError(f"a message with role {role!r} has no Inspect equivalent")


def from_inspect(message: Any) -> dict[str, Any]:
    """One Inspect ChatMessage as a crosslab message dict."""
    out: dict[str, Any] = {"role": message.role, "content": _text(message.content)}
    if not isinstance(message.content, str) and any(getattr(p, "type", "text") != "text" for p in message.content):
        out["dropped"] = sorted({str(getattr(p, "type", "?")) for p in message.content if p.type != "text"})
    if message.role == "assistant" and message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "name": c.function, "arguments": dict(c.arguments or {})}
                             for c in message.tool_calls]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
        out["name"] = message.function
    return out


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(p.text for p in content if getattr(p, "type", None) == "text")
