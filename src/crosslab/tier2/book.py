"""The evaluator's rollout book: which token opens which rollout, and where finished rollouts go.

``crosslab env serve DIR --suite ... --lab NAME`` plans once: for each lab,
every served item × ``rollouts`` epochs gets one rollout and one fresh random
token. The lab receives its tokens (``tokens-<lab>.json``, mode 0600); the
book keeps only their SHA-256, so the serve directory never holds a usable
token. A token opens exactly one rollout, of one lab: that is what keeps one
session from ever reaching another's state.

Each lab has its own engine journal (``DIR/<lab>/``) holding the served
items; a finished rollout is written there as an ordinary record, then graded
by the suite's own grader. A restarted server reads the journals back, and a
finished rollout's token is refused from then on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from crosslab.core.atomic import write_atomically
from crosslab.core.errors import CrosslabError
from crosslab.core.version import __version__
from crosslab.engine.journal import JOURNAL_FILE, Journal
from crosslab.engine.plan import NO_VARIANT, sample_id
from crosslab.items.item import Item
from crosslab.run.grade import grade_record
from crosslab.suites.registry import EnvironmentFactory
from crosslab.tier2.bundle_format import lab_digest
from crosslab.tier2.rollout import Limits, Rollout

log = logging.getLogger("crosslab.tier2")
BOOK_FILE = "tier2-serve.json"
TOKEN_PREFIX = "cxl2_"
_LAB = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class BookError(CrosslabError, ValueError):
    """A serve directory that cannot be planned or opened as asked; the message says why."""


class TokenRefused(CrosslabError, PermissionError):
    """A token that opens no rollout now: unknown, or its rollout has ended."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Slot:
    """One planned rollout: which lab, which item, which epoch (the environment's seed)."""

    lab: str
    item_id: str
    epoch: int

    @property
    def rollout_id(self) -> str:
        return sample_id(self.item_id, NO_VARIANT, self.epoch, lab_digest(self.lab))


def plan_book(directory: Path, items: list[Item], labs: list[str], *, rollouts: int, limits: Limits,
              source: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Create a serve directory; returns each lab's tokens (rollout id -> token), shown only this once."""
    if not items:
        raise BookError("no items to serve: the suite has no items with a tool environment")
    if not labs or len(set(labs)) != len(labs):
        raise BookError("name each lab once (--lab NAME)")
    for lab in labs:
        if not _LAB.match(lab):
            raise BookError(f"lab name {lab!r}: lowercase letters, digits, '-' and '_' (at most 40)")
    if rollouts < 1:
        raise BookError("--rollouts must be at least 1")
    if (directory / BOOK_FILE).exists():
        raise BookError(f"{directory} already holds a plan; serve it without --suite, or choose a new directory")
    if directory.exists() and any(directory.iterdir()):
        raise BookError(f"{directory} exists and is not empty")
    directory.mkdir(parents=True, exist_ok=True)
    tokens: dict[str, dict[str, str]] = {}
    hashes: dict[str, dict[str, Any]] = {}
    for lab in labs:
        tokens[lab] = {}
        for epoch in range(1, rollouts + 1):  # 1-based, as the engine plans epochs: the same seeds
            for item in items:
                slot = Slot(lab, item.id, epoch)
                token = TOKEN_PREFIX + secrets.token_urlsafe(32)
                tokens[lab][slot.rollout_id] = token
                hashes[token_hash(token)] = {"lab": lab, "item_id": item.id, "epoch": epoch}
        dep = {"provider": "mcp", "model": lab}
        Journal.create(directory / lab, {"kind": "tier2", "lab": lab, "deployment": dep,
                                         "target_digest": lab_digest(lab), "crosslab_version": __version__,
                                         "source": source, "limits": limits.to_dict()}, items).close()
    book = {"crosslab_version": __version__, "source": source, "labs": labs, "rollouts": rollouts,
            "limits": limits.to_dict(), "items": [i.id for i in items], "tokens": hashes}
    write_atomically(directory / BOOK_FILE, orjson.dumps(book, option=orjson.OPT_INDENT_2))
    return tokens


def write_tokens(path: Path, lab: str, url: str | None, tokens: dict[str, str]) -> None:
    """The file a lab receives: its rollout tokens (secret: mode 0600)."""
    data = orjson.dumps({"lab": lab, "url": url, "tokens": tokens}, option=orjson.OPT_INDENT_2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class RolloutBook:
    """Open rollouts by token, and journal and grade them when they end."""

    def __init__(self, directory: Path, environments: dict[str, EnvironmentFactory]) -> None:
        path = directory / BOOK_FILE
        try:
            data = orjson.loads(path.read_bytes())
            self.labs: list[str] = list(data["labs"])
            self.limits = Limits(**data["limits"])
            self._tokens: dict[str, dict[str, Any]] = dict(data["tokens"])
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BookError(f"{path}: not a tier-2 serve plan ({type(exc).__name__}: {exc})") from None
        self.directory = directory
        self._environments = environments
        self._journals: dict[str, Journal] = {}
        self._items: dict[str, Item] = {}
        for lab in self.labs:
            if not (directory / lab / JOURNAL_FILE).is_file():
                raise BookError(f"{directory / lab}: the lab's journal is missing")
            journal = Journal.open(directory / lab)
            self._journals[lab] = journal
            self._items.update({i.id: i for i in journal.items()})
        self._ended: set[str] = set().union(*(j.completed_ids() for j in self._journals.values()))
        self.live: dict[str, Rollout] = {}  # token hash -> rollout in progress

    def close(self) -> None:
        for journal in self._journals.values():
            journal.close()

    def slot(self, token: str) -> Slot | None:
        entry = self._tokens.get(token_hash(token))
        return Slot(entry["lab"], entry["item_id"], entry["epoch"]) if entry else None

    def has_ended(self, token: str) -> bool:
        slot = self.slot(token)
        return slot is not None and token_hash(token) not in self.live and slot.rollout_id in self._ended

    def open(self, token: str) -> Rollout:
        """The token's rollout: the one in progress, or a fresh one; TokenRefused otherwise."""
        key = token_hash(token)
        if key in self.live:
            return self.live[key]
        slot = self.slot(token)
        if slot is None:
            raise TokenRefused("unknown token")
        if slot.rollout_id in self._ended:
            raise TokenRefused("this token's rollout has ended")
        item = self._items[slot.item_id]
        factory = self._environments.get(item.environment or "")
        if factory is None:
            raise BookError(f"item {item.id}: no environment {item.environment!r} is installed")
        rollout = Rollout(slot.rollout_id, item, slot.epoch, factory(item, slot.epoch), self.limits)
        self.live[key] = rollout
        return rollout

    def finish(self, token: str) -> dict[str, Any] | None:
        """Journal and grade the token's rollout if it is live (ended or not: a disconnect ends it)."""
        return self.finish_by_hash(token_hash(token))

    def finish_by_hash(self, key: str) -> dict[str, Any] | None:
        rollout = self.live.pop(key, None)
        if rollout is None:
            return None
        lab = self._tokens[key]["lab"]
        record = {"sample_id": rollout.id, **rollout.record(), "target": lab_digest(lab)}
        journal = self._journals[lab]
        journal.write(record)
        self._ended.add(rollout.id)
        try:
            verdict = grade_record(rollout.item, record)
        except Exception:  # noqa: BLE001 - the record is journaled: a grader bug must not lose a rollout
            log.exception("grading rollout %s failed; its record is kept ungraded", rollout.id)
            return record
        if verdict is not None:
            journal.write_verdicts([(rollout.id, verdict.grader, verdict.to_dict())])
        return record

    def counts(self) -> dict[str, dict[str, int]]:
        """Per lab: rollouts planned and ended."""
        planned: dict[str, int] = {lab: 0 for lab in self.labs}
        for entry in self._tokens.values():
            planned[entry["lab"]] += 1
        return {lab: {"planned": planned[lab], "ended": len(self._journals[lab].completed_ids())}
                for lab in self.labs}
