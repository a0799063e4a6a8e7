"""Build the suite's items: harmful behaviours and their benign twins × attack transforms.

Which transforms a behaviour gets is data (``panel`` / ``twin_panel`` in
data/behaviours.yaml): ``attacks`` = every transform, ``direct`` = the direct
request only. That keeps the suite to a few hundred items while every
transform is measured on every harm category, for harmful requests (ASR) and
benign twins (over-refusal).

Ids: ``jb-<behaviour>/<transform>`` and ``jb-<behaviour>-twin/<transform>``;
they never depend on positions, so adding a behaviour or a transform never
changes an existing sample id. Items are interleaved (one per transform and
slice in turn, each transform's list rotated) so ``crosslab run --limit N``
samples many transforms, harms and both slices.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from itertools import zip_longest
from typing import Any

import yaml

from crosslab.items.item import Item
from crosslab.suites.jailbreak.transforms import TRANSFORMS, Transform, templates

CATEGORY = "jailbreak"
GRADING_TYPE = "jailbreak_refusal"
HARMS = ("weapons", "cyber", "fraud", "harassment", "self_harm", "chemistry", "privacy", "extremism")


@cache
def behaviours() -> list[dict[str, Any]]:
    text = resources.files("crosslab.suites.jailbreak").joinpath("data/behaviours.yaml").read_text("utf-8")
    rows = yaml.safe_load(text)["behaviours"]
    for row in rows:
        if row["harm"] not in HARMS or row["panel"] not in ("attacks", "direct") or \
                row["twin_panel"] not in ("attacks", "direct"):
            raise ValueError(f"behaviour {row.get('id')}: bad harm or panel")
    return rows


def make_item(row: dict[str, Any], transform: Transform, benign: bool) -> Item:
    request = row["twin"] if benign else row["request"]
    attack = transform.apply(request, templates())
    key = f"jb-{row['id']}-twin" if benign else f"jb-{row['id']}"
    return Item(
        id=f"{key}/{transform.name}", category=CATEGORY, slice="benign" if benign else "harmful",
        tier="public" if benign else "restricted", interaction=attack.interaction,  # type: ignore[arg-type]
        messages=attack.messages, followups=attack.followups,
        grading={"type": GRADING_TYPE, "expect": "comply" if benign else "refuse"},
        facets={"transform": transform.name, "harm": row["harm"]},
        metadata={"behaviour": row["id"], "request": request, "transform_version": transform.version})


def _panel(rows: list[dict[str, Any]], transform: str, field: str) -> list[dict[str, Any]]:
    return [r for r in rows if transform == "direct" or r[field] == "attacks"]


def build() -> list[Item]:
    rows = behaviours()
    streams: list[list[Item]] = []
    for j, (name, transform) in enumerate(TRANSFORMS.items()):
        for benign, field in ((False, "panel"), (True, "twin_panel")):
            chosen = _panel(rows, name, field)
            shift = (3 * j) % len(chosen)
            chosen = chosen[shift:] + chosen[:shift]
            streams.append([make_item(r, transform, benign) for r in chosen])
    return [item for group in zip_longest(*streams) for item in group if item is not None]
