"""The attacker's prompts, as data (``data/attacker_prompts.yaml``), and their rendering.

Prompts are content, so they live in a versioned data file with ids; the
digest of the whole prompt set goes into every attack's run key, so an edited
prompt can never resume an old journal or pass for the pinned one. Rendering
fills ``{{name}}`` placeholders and fails on any unknown or missing name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from crosslab.core.canonical import digest

_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_PARTS = ("system", "first", "feedback", "unreadable")


@dataclass(frozen=True)
class AttackerPrompt:
    id: str
    version: str
    texts: Mapping[str, str]  # system, first, feedback, unreadable and, for branching attacks, branch

    def render(self, part: str, **values: Any) -> str:
        template = self.texts[part]

        def fill(m: re.Match[str]) -> str:
            if m.group(1) not in values:
                raise KeyError(f"attacker prompt {self.id}.{part} needs {{{{{m.group(1)}}}}}")
            return str(values[m.group(1)])

        return _PLACEHOLDER.sub(fill, template).strip()


@dataclass(frozen=True)
class Strategy:
    id: str
    text: str


@dataclass(frozen=True)
class PromptSet:
    version: str
    prompts: Mapping[str, AttackerPrompt]
    strategies: tuple[Strategy, ...]
    digest: str

    def prompt(self, prompt_id: str) -> AttackerPrompt:
        return self.prompts[prompt_id]

    def ref(self) -> dict[str, str]:
        return {"version": self.version, "digest": self.digest}


def parse_prompt_set(data: Any) -> PromptSet:
    if not isinstance(data, dict) or not isinstance(data.get("prompts"), list) or not data.get("strategies"):
        raise ValueError("attacker prompts: need 'version', 'prompts' and 'strategies'")
    prompts: dict[str, AttackerPrompt] = {}
    for row in data["prompts"]:
        missing = [p for p in ("id", "version", *_PARTS) if not isinstance(row.get(p), str)]
        if missing:
            raise ValueError(f"attacker prompt {row.get('id')!r}: missing {', '.join(missing)}")
        if row["id"] in prompts:
            raise ValueError(f"attacker prompt {row['id']!r} appears twice")
        texts = {k: v for k, v in row.items() if k in (*_PARTS, "branch")}
        prompts[row["id"]] = AttackerPrompt(row["id"], row["version"], texts)
    strategies = tuple(Strategy(s["id"], s["text"]) for s in data["strategies"])
    return PromptSet(str(data["version"]), prompts, strategies, digest(data))


@cache
def prompt_set() -> PromptSet:
    """The built-in attacker prompts."""
    text = resources.files("crosslab.attacks").joinpath("data/attacker_prompts.yaml").read_text("utf-8")
    return parse_prompt_set(yaml.safe_load(text))
