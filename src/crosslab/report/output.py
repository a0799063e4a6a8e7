"""Render report files, leak-scan the ones meant for the public, and write them atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from crosslab.attacks import BehaviourResult
from crosslab.bundle.attack_block import elicitation_texts
from crosslab.core.atomic import write_atomically
from crosslab.disclosure.commitments import open_disclosure
from crosslab.core.errors import CrosslabError
from crosslab.disclosure.leakscan import scan_files
from crosslab.suites.registry import installed_sensitive
from crosslab.report.render import render_html, render_json, render_markdown
from crosslab.items.item import Item

FORMATS = ("html", "md", "json")


class LeakError(CrosslabError, ValueError):
    """A public report would carry restricted or withheld text; nothing was written."""


def render_files(data: dict[str, Any], stem: str, formats: list[str] | tuple[str, ...] = FORMATS) -> dict[str, bytes]:
    renderers = {"html": lambda: render_html(data).encode(), "md": lambda: render_markdown(data).encode(),
                 "json": lambda: render_json(data)}
    return {f"{stem}.{fmt}": renderers[fmt]() for fmt in formats}


def attack_texts(bundle: Path) -> list[str]:
    """The adaptive attack's elicitations kept beside a bundle (``<bundle>.private/attack.jsonl``, the
    evaluator's copy): what a public report must not carry. Empty when there is none."""
    path = bundle.with_name(bundle.name + ".private") / "attack.jsonl"
    if not path.is_file():
        return []
    results = []
    for line in path.read_bytes().splitlines():
        _salt, value = open_disclosure(orjson.loads(line)["d"])
        results.append(BehaviourResult.from_dict(value))
    return elicitation_texts(results)


def check_public(files: dict[str, bytes], extra_items: list[Item] | None = None,
                 extra_texts: list[str] | None = None) -> None:
    """The leak scan over reports about to be published, against every installed suite's items and
    ``extra_texts`` (adaptive attack elicitations, ``attack_texts``)."""
    sensitive = installed_sensitive(extra_items or [])
    if extra_texts:
        sensitive = sensitive.with_texts("adaptive attack elicitation", extra_texts)
    hits = scan_files(files, sensitive)
    if hits:
        raise LeakError(f"leak scan: {len(hits)} hit(s), report not written; first: {hits[0]}")


def write_files(out: Path, files: dict[str, bytes], *, private: bool = False) -> list[Path]:
    """Write each file atomically; ``private``: the directory 0700 (when made here) and the files 0600."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700 if private else 0o777)
    paths = []
    for name, payload in files.items():
        paths.append(write_atomically(out / name, payload, private=private))
    return paths
