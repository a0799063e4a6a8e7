"""The engine's side of an interaction: a ``Dialogue`` bound to one sample, its caller and its costs.

Which interaction runs is the item's ``interaction`` name, looked up in the
table the run hands in (the built-ins plus any that suites register).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from crosslab.dialogue.base import Interaction
from crosslab.dialogue.builtin import BUILTIN
from crosslab.engine.caller import CallStats, ModelCaller
from crosslab.engine.plan import Sample
from crosslab.items.item import Item
from crosslab.sandbox.environment import ToolEnvironment
from crosslab.targets.base import ChatResponse, Message, ToolSpec

EnvironmentFactory = Callable[[Item, int], ToolEnvironment]


class SampleDialogue:
    """A ``Dialogue`` for one sample: replies go through the caller and are costed in ``stats``."""

    def __init__(self, sample: Sample, caller: ModelCaller, stats: CallStats,
                 environments: dict[str, EnvironmentFactory]) -> None:
        self.item = sample.item
        self.epoch = sample.epoch
        self.messages: list[Message] = [dict(m) for m in sample.item.messages]  # type: ignore[misc]
        self.extra: dict[str, Any] = {}
        self._sample, self._caller, self._stats, self._environments = sample, caller, stats, environments

    async def reply(self, messages: list[Message], tools: Sequence[ToolSpec], tag: str) -> ChatResponse:
        call_id = self._sample.id[:12] + (f"-{tag}" if tag else "")
        return await self._caller.call(messages, tools, epoch=self.epoch, stats=self._stats, call_id=call_id)

    def environment(self) -> ToolEnvironment:
        name = self.item.environment
        if name not in self._environments:
            raise LookupError(f"item {self.item.id}: unknown environment {name!r}")
        return self._environments[name](self.item, self.epoch)  # type: ignore[index]


def interaction_for(item: Item, interactions: dict[str, Interaction] | None) -> Interaction:
    table = BUILTIN if interactions is None else interactions
    if item.interaction not in table:
        raise LookupError(f"item {item.id}: unknown interaction {item.interaction!r} "
                          f"(known: {', '.join(sorted(table))})")
    return table[item.interaction]
