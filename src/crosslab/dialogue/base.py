"""The ``Dialogue`` an interaction drives, and the shape of an interaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from crosslab.items.item import Item
from crosslab.sandbox.environment import ToolEnvironment
from crosslab.targets.base import ChatResponse, Message, ToolSpec


class Dialogue(Protocol):
    """One sample's conversation with the model under test.

    ``messages`` is the transcript that is journaled; ``extra`` holds what an
    interaction leaves beside it (an environment's final state, follow-up
    answers). ``reply`` makes one model call; ``tag`` names the call within
    the sample and prefixes the ids of tool calls parsed from its text.
    """

    item: Item
    epoch: int
    messages: list[Message]
    extra: dict[str, Any]

    async def reply(self, messages: list[Message], tools: Sequence[ToolSpec], tag: str) -> ChatResponse: ...

    def environment(self) -> ToolEnvironment:
        """A fresh tool environment for this sample (the item's ``environment``, seeded by the epoch)."""
        ...


#: An interaction: drives a dialogue to its end, appending to ``messages``.
Interaction = Callable[[Dialogue], Awaitable[None]]
