"""One role's calls: through the engine's ModelCaller, replayed from the journal, cached, counted.

Every attacker, target and judge call of an attack goes through a
``RoleCaller``, so all three roles get the engine's retries, pacing and
timeouts, the same journal-and-replay resume, and the same accounting in the
behaviour's ``Ledger``. The algorithm grants the query first
(``Ledger.take``); this module never decides whether a call may be made.

A call that fails for good is journaled as an error, counted, and raised as
``AttackCallError``: the behaviour's result is then an error, never a
silent failure or success.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crosslab.attacks.budget import Ledger
from crosslab.attacks.journal import call_key
from crosslab.core.canonical import digest
from crosslab.core.errors import CrosslabError
from crosslab.engine.cache import ResponseCache, request_key
from crosslab.engine.caller import CallStats, ModelCaller, SampleError
from crosslab.engine.journal import Journal
from crosslab.targets.base import ChatResponse, Message, Target

#: label, input tokens, output tokens -> USD, or None when no price is known.
PriceFn = Callable[[str, int, int], "float | None"]


class AttackCallError(CrosslabError):
    """A role's call failed for good; the behaviour's attack stops with an error result."""

    def __init__(self, role: str, slot: str, error: dict[str, Any]) -> None:
        super().__init__(f"{role} call {slot} failed: {error['kind']}: {error['message']}")
        self.role = role
        self.slot = slot
        self.error = error


@dataclass(frozen=True)
class Reply:
    response: ChatResponse
    extra: dict[str, Any] = field(default_factory=dict)  # what the caller stored with the call (a judge's nonce)
    resumed: bool = False


class RoleCaller:
    def __init__(self, role: str, target: Target, *, run_key: str, journal: Journal | None,
                 done: dict[str, dict[str, Any]], cache: ResponseCache | None = None,
                 price: PriceFn | None = None, seed: int = 0) -> None:
        self.role = role
        self.target = target
        self.run_key = run_key
        self.journal = journal
        self.done = done
        self.cache = cache
        self.price = price
        self.caller = ModelCaller(target, cache=None, seed=seed)  # caching is keyed here: see call()
        self._identity = target.deployment.identity()

    async def call(self, ledger: Ledger, behaviour_id: str, slot: str, messages: list[Message], *,
                   key_messages: list[Message] | None = None, extra: dict[str, Any] | None = None) -> Reply:
        """One granted query. ``key_messages`` stand for ``messages`` in keys (a judge's placeholder nonce)."""
        count = ledger.roles[self.role]
        keyed = key_messages if key_messages is not None else messages
        key = call_key(self.run_key, behaviour_id, self.role, slot, keyed)
        done = self.done.get(key)
        if done is not None:
            response = ChatResponse.from_dict(done["response"])
            count.resumed += 1
            self._account(ledger, response)
            return Reply(response, done.get("extra") or {}, resumed=True)
        # the slot is in the cache key, so parallel streams of a sampling attacker stay independent
        cache_key = (request_key(self._identity, keyed, [], 0) + ":" + digest(slot)[:16]
                     if self.cache is not None else None)
        hit = self.cache.get(cache_key) if self.cache is not None and cache_key is not None else None
        stats = CallStats()
        if hit is not None:
            response = ChatResponse.from_dict(hit["response"])
            extra = hit.get("extra") or {}
            count.cached += 1
        else:
            try:
                response = await self.caller.call(messages, (), epoch=0, stats=stats, call_id=key)
            except SampleError as exc:
                count.errors += 1
                count.retries += stats.retries
                error = exc.to_dict()
                self._write(key, behaviour_id, slot, "error", messages, None, extra, stats, error)
                raise AttackCallError(self.role, slot, error) from exc
            count.sent += 1
            count.retries += stats.retries
            if self.cache is not None and cache_key is not None:
                self.cache.put(cache_key, {"response": response.to_dict(), "extra": extra or {}})
        self._account(ledger, response)
        record = self._write(key, behaviour_id, slot, "ok", messages, response, extra, stats, None)
        if record is not None:
            self.done[key] = record
        return Reply(response, extra or {}, resumed=False)

    def _account(self, ledger: Ledger, response: ChatResponse) -> None:
        count = ledger.roles[self.role]
        count.input_tokens += response.usage.input_tokens
        count.output_tokens += response.usage.output_tokens
        cost = None if self.price is None else self.price(self.target.deployment.label,
                                                         response.usage.input_tokens, response.usage.output_tokens)
        if cost is not None:
            count.cost_usd = (count.cost_usd or 0.0) + cost

    def _write(self, key: str, behaviour_id: str, slot: str, status: str, messages: list[Message],
               response: ChatResponse | None, extra: dict[str, Any] | None, stats: CallStats,
               error: dict[str, Any] | None) -> dict[str, Any] | None:
        if self.journal is None:
            return None
        record = {"sample_id": key, "item_id": behaviour_id, "kind": "call", "role": self.role, "slot": slot,
                  "status": status, "error": error, "deployment": self.target.deployment.digest,
                  "messages": messages, "response": response.to_dict() if response is not None else None,
                  "extra": extra or {}, "stats": stats.to_dict()}
        self.journal.write(record)
        return record
