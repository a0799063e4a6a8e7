"""Read the suite's data files (YAML inside the package) and pick deterministic subsets."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

import yaml

PACKAGE = "crosslab.suites.instruction_hierarchy"
CATEGORY = "instruction_hierarchy"


def load(name: str) -> Any:
    return yaml.safe_load(resources.files(PACKAGE).joinpath(f"data/{name}").read_text("utf-8"))


def rank(*keys: str) -> str:
    """A stable pseudo-random order key: the same keys always sort the same way, whatever else is added."""
    return hashlib.sha256("|".join(keys).encode()).hexdigest()


def messages(system: str | None, user: str) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
