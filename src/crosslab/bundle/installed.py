"""What the installed suites let a verifier check beyond the core: metric definitions and pinned content.

Kept apart from the verifier core, which never imports suites: a buyer's
verifier checks every signature, digest and commitment with no suite code at
all. With suites installed it also re-computes a suite's metrics (only when
it has that suite's definition at the version the bundle declares), and
checks each stub's tier and each disclosed item id against the pinned items
(only when the installed suite gives exactly the pinned digest).
"""

from __future__ import annotations

from crosslab.bundle.metrics import MetricDefinition
from crosslab.core.version import __version__
from crosslab.items.loader import ItemsError
from crosslab.protocol.schema import Protocol
from crosslab.suites.pins import pinned_items
from crosslab.suites.registry import discover, items_digest


def installed_definitions() -> dict[str, MetricDefinition]:
    """Category -> the installed suite's metric definition (suites without metrics have none)."""
    return {s.category: MetricDefinition(s.name, s.category, s.metrics_version, __version__, s.metrics)
            for s in discover().values() if s.category and s.metrics}


def installed_contents(protocol: Protocol) -> dict[str, list[tuple[str, str]]]:
    """Suite name -> [(item id, tier)] in pinned order, for each pin the installed suites reproduce exactly."""
    contents: dict[str, list[tuple[str, str]]] = {}
    for pin in protocol.suites:
        try:
            items = pinned_items(pin)
        except ItemsError:  # not installed here
            continue
        if items_digest(items) == pin.digest:
            contents[pin.name] = [(i.id, i.tier) for i in items]
    return contents
