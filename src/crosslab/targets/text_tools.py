"""Tool calling for models without native tool calling (the text tool protocol).

The tools are described in the system prompt. To call one the model replies
with a fenced block tagged ``tool_call`` holding one JSON object:

    ```tool_call
    {"name": "read_file", "arguments": {"path": "notes.txt"}}
    ```

Each result comes back as a user turn starting ``Tool result (name):``.
A plain ``json`` fence with ``name`` and ``arguments`` keys is accepted too,
because small models often write that. The same agentic scenario therefore
runs on every target, native or not; docs/targets.md documents the protocol.
"""

from __future__ import annotations

import json
import re
from typing import Any

from crosslab.targets.base import ChatResponse, Message, ToolCall, ToolSpec

_FENCE = re.compile(r"```(tool_call|json)?\s*\n(.*?)\n?```", re.DOTALL)


def tool_instructions(tools: tuple[ToolSpec, ...]) -> str:
    specs = "\n".join(json.dumps(t.to_dict(), sort_keys=True) for t in tools)
    return (
        "You can use tools. To call a tool, reply with exactly one fenced block tagged tool_call "
        "containing a JSON object with \"name\" and \"arguments\", for example:\n"
        "```tool_call\n{\"name\": \"TOOL_NAME\", \"arguments\": {}}\n```\n"
        "The result will be sent back to you. When you are finished, reply without a tool call.\n"
        f"Available tools (JSON schema):\n{specs}"
    )


def with_tool_instructions(messages: list[Message], tools: tuple[ToolSpec, ...]) -> list[Message]:
    """Put the tool description into the system turn (creating one if needed)."""
    note = tool_instructions(tools)
    if messages and messages[0]["role"] == "system":
        return [{**messages[0], "content": messages[0]["content"] + "\n\n" + note}, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]


def to_text_messages(messages: list[Message]) -> list[Message]:
    """Rewrite tool calls and tool results as plain turns a text-only model can read."""
    out: list[Message] = []
    for m in messages:
        if m["role"] == "tool":
            out.append({"role": "user", "content": f"Tool result ({m.get('name', 'tool')}):\n{m['content']}"})
        elif m["role"] == "assistant" and m.get("tool_calls"):
            blocks = "\n".join(
                "```tool_call\n" + json.dumps({"name": c["name"], "arguments": c["arguments"]}) + "\n```"
                for c in m["tool_calls"]
            )
            text = (m.get("content") or "").strip()
            out.append({"role": "assistant", "content": f"{text}\n{blocks}".strip()})
        else:
            out.append(m)
    return out


def parse_tool_calls(text: str, call_id_prefix: str) -> list[ToolCall]:
    """Find tool calls in a text reply; malformed blocks are ignored (the reply stays text)."""
    calls: list[ToolCall] = []
    for i, match in enumerate(_FENCE.finditer(text)):
        tag, body = match.group(1), match.group(2).strip()
        try:
            obj: Any = json.loads(body)
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            continue
        if tag != "tool_call" and "arguments" not in obj:
            continue
        args = obj.get("arguments")
        calls.append(ToolCall(id=f"{call_id_prefix}-{i}", name=obj["name"],
                              arguments=args if isinstance(args, dict) else {}))
    return calls


def extract_tool_calls(response: ChatResponse, call_id_prefix: str) -> ChatResponse:
    """Fill ``response.tool_calls`` from its text when the target has no native tools."""
    if not response.tool_calls:
        response.tool_calls = parse_tool_calls(response.text, call_id_prefix)
    return response
