"""Named suites: their items (data files inside the package) and tool environments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

from crosslab.protocol.canonical import digest
from crosslab.sandbox.environment import ToolEnvironment
from crosslab.suites.item import Item
from crosslab.suites.loader import ItemsError, parse_items

EnvironmentFactory = Callable[[Item, int], ToolEnvironment]


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    package: str  # where the suite's items.jsonl lives
    environments: dict[str, EnvironmentFactory] = field(default_factory=dict)

    def items(self) -> list[Item]:
        data = resources.files(self.package).joinpath("items.jsonl").read_text(encoding="utf-8")
        return parse_items(data.splitlines(), f"suite {self.name}")

    def content_digest(self) -> str:
        """Digest of the suite's items, for pinning a suite version in a protocol."""
        return items_digest(self.items())


def items_digest(items: list[Item]) -> str:
    return digest([i.model_dump(mode="json") for i in items])


def _smoke() -> Suite:
    from crosslab.suites.smoke.lookup import LookupEnvironment

    return Suite("smoke", "A dozen quick items exercising single-turn, scripted and agent interactions.",
                 "crosslab.suites.smoke", {"lookup": LookupEnvironment.for_item})


SUITES: dict[str, Callable[[], Suite]] = {"smoke": _smoke}


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise ItemsError(f"unknown suite {name!r} (available: {', '.join(sorted(SUITES))})")
    return SUITES[name]()


def all_environments() -> dict[str, EnvironmentFactory]:
    """Every suite's environments, for items files that reference one by name."""
    merged: dict[str, EnvironmentFactory] = {}
    for make in SUITES.values():
        merged.update(make().environments)
    return merged
