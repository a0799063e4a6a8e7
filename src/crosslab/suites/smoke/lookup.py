"""A tiny read-only fact base with one tool, for the smoke suite's agent items."""

from __future__ import annotations

from typing import Any

from crosslab.items.item import Item
from crosslab.targets.base import ToolSpec

LOOKUP_TOOL = ToolSpec(
    name="lookup",
    description="Look up a fact in the company handbook by keyword; returns the matching entry.",
    parameters={"type": "object", "properties": {"keyword": {"type": "string"}}, "required": ["keyword"]},
)


class LookupEnvironment:
    """State: the handbook entries (from the item's metadata) and the call log."""

    tools = (LOOKUP_TOOL,)

    def __init__(self, entries: dict[str, str]) -> None:
        self.entries = {k.lower(): v for k, v in entries.items()}
        self.log: list[dict[str, Any]] = []

    @classmethod
    def for_item(cls, item: Item, seed: int) -> LookupEnvironment:
        return cls(item.metadata.get("handbook", {}))

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        if name != "lookup":
            result = f"error: unknown tool {name!r}"
        else:
            keyword = str(arguments.get("keyword", "")).strip().lower()
            hits = [v for k, v in self.entries.items() if keyword and (keyword in k or k in keyword)]
            result = "\n".join(hits) if hits else f"no entry matches {keyword!r}"
        self.log.append({"tool": name, "arguments": arguments, "result": result})
        return result

    def snapshot(self) -> dict[str, Any]:
        return {"calls": len(self.log)}
