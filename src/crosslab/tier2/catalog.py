"""Which items can be served to an outside agent: those whose suite gives them a tool environment.

Today: every scheming scenario (both variants of each) and the instruction-
hierarchy injection items that run in a mailbox. An item with no environment
is a chat prompt, which needs no MCP server: tier 1 runs it against the API.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from crosslab.core.errors import CrosslabError
from crosslab.items.item import Item
from crosslab.items.loader import ItemsError
from crosslab.suites.registry import get_suite


class CatalogError(CrosslabError, ValueError):
    """A selection that names no servable item; the message says what is on offer."""


def servable(suites: Sequence[str], patterns: Sequence[str] = ()) -> list[Item]:
    """Items of ``suites`` with a tool environment, optionally only ids matching any glob in ``patterns``."""
    items: list[Item] = []
    for name in suites:
        try:
            suite = get_suite(name)
        except ItemsError as exc:
            raise CatalogError(str(exc)) from None
        with_env = [i for i in suite.items() if i.environment]
        if not with_env:
            raise CatalogError(f"suite {name} has no items with a tool environment to serve")
        items.extend(with_env)
    if patterns:
        items = [i for i in items if any(fnmatch.fnmatchcase(i.id, p) for p in patterns)]
        if not items:
            raise CatalogError(f"no servable item matches {', '.join(patterns)}")
    return items
