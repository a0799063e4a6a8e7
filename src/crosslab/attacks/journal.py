"""The attack journal: every call of every role, one record each, in the engine's SQLite journal.

An adaptive attack is a deterministic function of its spec, its seed and the
replies it gets. So resuming is *replay*: the attack runs again from the
start, and each call whose key is journaled as ``ok`` is answered from the
journal instead of the model; the first call that is not journaled is where
the interrupted run stopped, and from there calls are sent. Nothing that
finished is sent twice, and the resumed attack makes exactly the decisions
the uninterrupted one would have.

A call's key is the digest of the run key (spec, roles, prompt set, rubrics),
the behaviour, the role, the call's place in the algorithm (its *slot*, e.g.
``pair/s1/i3/target``) and the request's messages (judge requests with a
placeholder nonce, as ``judges/runner.py`` does). A record is written and
committed as soon as its call returns (SQLite WAL, so SIGKILL loses at most
the calls in flight). Failed calls are journaled as ``error`` and sent again
on resume; an ``ok`` record is never replaced.

Each behaviour's result is journaled too (``kind: outcome``), for readers
that have no targets to replay with (``read_outcomes``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crosslab.core.canonical import digest
from crosslab.core.version import __version__
from crosslab.engine.journal import JOURNAL_FILE, Journal, JournalError

JOURNAL_KIND = "attack"


def call_key(run_key: str, behaviour_id: str, role: str, slot: str, messages: list[dict[str, Any]]) -> str:
    return digest({"attack_call": [run_key, behaviour_id, role, slot, messages]})


def outcome_id(behaviour_id: str) -> str:
    return digest({"attack_outcome": behaviour_id})


def open_attack_journal(directory: Path, meta: dict[str, Any]) -> Journal:
    """The journal in ``directory``: created when absent, resumed when it was written by the same run key."""
    if (directory / JOURNAL_FILE).is_file():
        journal = Journal.open(directory)
        old = journal.meta()
        if old.get("kind") != JOURNAL_KIND:
            journal.close()
            raise JournalError(f"{directory} holds a {old.get('kind', 'run')} journal, not an attack journal")
        if old.get("run_key") != meta["run_key"]:
            journal.close()
            raise JournalError(f"{directory} was written by another attack spec, roles or prompt set; "
                               "use a new directory")
        return journal
    if directory.exists() and any(directory.iterdir()):
        raise JournalError(f"{directory} exists but holds no attack journal")
    if directory.exists():
        directory.rmdir()
    return Journal.create(directory, {**meta, "kind": JOURNAL_KIND, "crosslab_version": __version__}, [])


def finished_calls(journal: Journal) -> dict[str, dict[str, Any]]:
    """Every call journaled as ok, by key: what a resumed attack replays."""
    return {r["sample_id"]: r for r in journal.records() if r.get("kind") == "call" and r["status"] == "ok"}


def read_outcomes(directory: Path) -> list[dict[str, Any]]:
    """The journaled behaviour results of an attack run, in the order they finished (no replay needed)."""
    journal = Journal.open(directory)
    try:
        if journal.meta().get("kind") != JOURNAL_KIND:
            raise JournalError(f"{directory} is not an attack journal")
        return [r["result"] for r in journal.records() if r.get("kind") == "outcome"]
    finally:
        journal.close()
