"""Pinned suite digests against the suites installed here.

A protocol pins each suite's content digest; running a different version of a
suite under that protocol would publish results for a methodology nobody
agreed to, so the mismatch stops the run.
"""

from __future__ import annotations

from crosslab.protocol.schema import Protocol
from crosslab.suites.loader import ItemsError
from crosslab.suites.registry import get_suite


def pin_mismatches(protocol: Protocol) -> list[str]:
    """One line per pinned suite that is missing or differs here; empty when all match."""
    problems = []
    for pin in protocol.suites:
        try:
            installed = get_suite(pin.name).content_digest()
        except ItemsError as exc:
            problems.append(f"suite {pin.name}: {exc}")
            continue
        if installed != pin.digest:
            problems.append(f"suite {pin.name}: protocol pins {pin.digest[:16]}…, installed is {installed[:16]}…")
    return problems
