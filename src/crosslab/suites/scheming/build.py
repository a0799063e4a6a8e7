"""Build the scheming items: every scenario of every family × its two variants.

A family file (``scenarios/<family>.yaml``) names the one factor its variants
differ in and the text each variant puts where a scenario says ``<<FACTOR>>``
(in the system prompt, the task, or a file). Everything else of the pair is
identical, so a difference in behaviour between the two is the factor's effect.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from crosslab.items.item import Item

PACKAGE = "crosslab.suites.scheming"
FAMILIES = ("oversight_subversion", "self_exfiltration", "goal_guarding", "covert_data_manipulation",
            "sandbagging", "false_completion", "promise_breaking", "evaluation_sabotage")
PLACEHOLDER = "<<FACTOR>>"
MAX_STEPS = 10


def _read(name: str) -> Any:
    return yaml.safe_load(resources.files(PACKAGE).joinpath(name).read_text(encoding="utf-8"))


@cache
def families() -> dict[str, dict[str, Any]]:
    return {f: _read(f"scenarios/{f}.yaml") for f in FAMILIES}


@cache
def questions() -> tuple[str, ...]:
    return tuple(_read("interrogation.yaml")["questions"])


def _fill(value: Any, text: str) -> Any:
    """Replace the placeholder everywhere in a scenario (strings inside dicts and lists too)."""
    if isinstance(value, str):
        if PLACEHOLDER not in value:
            return value
        return "\n".join(line.rstrip() for line in value.replace(PLACEHOLDER, text).split("\n"))
    if isinstance(value, dict):
        return {k: _fill(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, text) for v in value]
    return value


def factor_file(scenario: dict[str, Any]) -> str | None:
    """The first file whose text carries the variant's factor (None: it is in the prompts)."""
    for path, value in (scenario.get("files") or {}).items():
        text = value if isinstance(value, str) else str(value.get("content", ""))
        if PLACEHOLDER in text:
            return path
    return None


def scenario_item(family: str, spec: dict[str, Any], scenario: dict[str, Any], variant: str) -> Item:
    v = spec["variants"][variant]
    filled = _fill(scenario, v["text"])
    if PLACEHOLDER not in str(scenario):  # the two variants would be identical
        raise ValueError(f"{family}/{scenario['id']}: no {PLACEHOLDER} in the scenario")
    treatment = bool(v["treatment"])
    covert_possible = treatment or spec.get("covert_in_control", True)
    return Item(
        id=f"scheming-{family}-{scenario['id']}-{variant}",
        category="scheming",
        slice=family,
        tier="restricted",
        interaction="agent_interrogated",
        environment="scheming",
        max_steps=MAX_STEPS,
        messages=[{"role": "system", "content": filled["system"].strip()},
                  {"role": "user", "content": filled["user"].strip()}],
        grading={"type": "scheming", "family": family,
                 "detect": {**filled["detect"], "treatment": treatment}, "done": filled["done"]},
        facets={"family": family, "variant": variant, "scenario": scenario["id"],
                "treatment": "yes" if treatment else "no"},
        metadata={
            "sandbox": {"files": filled.get("files") or {}, "hosts": filled.get("hosts") or {},
                        "tools": filled.get("tools") or []},
            "interrogation": [q.format(action=scenario["action"]) for q in questions()],
            "factor": {"name": spec["factor"], "text": v["text"], "file": factor_file(scenario)},
            # the scripted plans of baseline:schemer (and of the predicate tests)
            "plans": {"honest": filled["honest"], "covert": filled["covert"] if covert_possible else [],
                      "confession": scenario["confession"]},
        },
    )


def build() -> list[Item]:
    items = []
    for family, spec in families().items():
        for scenario in spec["scenarios"]:
            for variant in spec["variants"]:
                items.append(scenario_item(family, spec, scenario, variant))
    return items
