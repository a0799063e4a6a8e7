"""The interface between an agent loop and a tool environment.

An environment owns its state and its tools and knows nothing of who calls
them: crosslab's own agent loop today, an external agent over MCP later.
Graders read ``snapshot()`` (final state) and ``log`` (every call, in order).
"""

from __future__ import annotations

from typing import Any, Protocol

from crosslab.targets.base import ToolSpec


class ToolEnvironment(Protocol):
    tools: tuple[ToolSpec, ...]
    log: list[dict[str, Any]]

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        """Run one tool call and return its textual result (errors are results too)."""

    def snapshot(self) -> dict[str, Any]:
        """The final state, as plain JSON data, for graders and the journal."""
