"""Pinned suite digests against the suites installed here.

A protocol pins each suite's content digest, and may pin the version of each
of its graders; running a different version of a suite (or of a grader) under
that protocol would publish results for a methodology nobody agreed to, so the
mismatch stops the run. A pin may name a ``subset`` size (a quick profile):
the items are then chosen deterministically and the digest pins exactly those
items.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

from crosslab.protocol.schema import Protocol, SuitePin
from crosslab.items.item import Item
from crosslab.items.loader import ItemsError
from crosslab.suites.registry import get_suite, items_digest


def _order_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def select_subset(items: Sequence[Item], n: int | None) -> list[Item]:
    """``n`` items spread over every (category, slice), deterministic on any machine.

    Groups are visited round-robin and items inside a group in the order of the
    SHA-256 of their ids (a fixed shuffle, so a subset isn't just the first
    behaviours of a data file); the result keeps the suite's own order.
    """
    if n is None or n >= len(items):
        return list(items)
    groups: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for item in items:
        groups[(item.category, item.slice or "")].append(item)
    queues = [sorted(members, key=lambda i: _order_key(i.id))
              for _, members in sorted(groups.items(), key=lambda kv: _order_key(repr(kv[0])))]
    chosen: set[str] = set()
    depth = 0
    while len(chosen) < n:
        for queue in queues:
            if depth < len(queue) and len(chosen) < n:
                chosen.add(queue[depth].id)
        depth += 1
    return [i for i in items if i.id in chosen]


def pinned_items(pin: SuitePin) -> list[Item]:
    """The installed items a pin selects (the whole suite, or its subset)."""
    return select_subset(get_suite(pin.name).items(), pin.subset)


def pin_digest(name: str, subset: int | None = None) -> str:
    """The digest a protocol should pin for this installed suite (and subset size)."""
    return items_digest(select_subset(get_suite(name).items(), subset))


def grader_mismatches(pin: SuitePin) -> list[str]:
    """One line per grader the pin names at a version the installed suite's graders don't write.

    ``pin.graders`` maps a grading type to the version its verdicts carry
    (``Verdict.version``); the installed suite declares the same in
    ``Suite.grader_versions``. A pin that names no graders pins none (0.1.0 wrote ``{}``).
    """
    installed = get_suite(pin.name).grader_versions
    problems = []
    for kind, version in sorted(pin.graders.items()):
        if kind not in installed:
            have = ", ".join(f"{k} {v}" for k, v in sorted(installed.items())) or "none"
            problems.append(f"suite {pin.name}: protocol pins grader {kind} version {version!r}, "
                            f"the installed suite has no grader {kind} (it has: {have})")
        elif installed[kind] != version:
            problems.append(f"suite {pin.name}: protocol pins grader {kind} version {version!r}, "
                            f"installed is {installed[kind]!r}")
    return problems


def pin_mismatches(protocol: Protocol) -> list[str]:
    """One line per pinned suite that is missing or whose items or graders differ here; empty when all match."""
    problems = []
    for pin in protocol.suites:
        try:
            installed = items_digest(pinned_items(pin))
        except ItemsError as exc:
            problems.append(f"suite {pin.name}: {exc}")
            continue
        if installed != pin.digest:
            problems.append(f"suite {pin.name}: protocol pins {pin.digest[:16]}…, installed is {installed[:16]}…")
        problems.extend(grader_mismatches(pin))
    return problems
