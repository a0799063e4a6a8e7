"""Render report files, leak-scan the ones meant for the public, and write them atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crosslab.core.atomic import write_atomically
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


def check_public(files: dict[str, bytes], extra_items: list[Item] | None = None) -> None:
    """The leak scan over reports about to be published, against every installed suite's items."""
    hits = scan_files(files, installed_sensitive(extra_items or []))
    if hits:
        raise LeakError(f"leak scan: {len(hits)} hit(s), report not written; first: {hits[0]}")


def write_files(out: Path, files: dict[str, bytes]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, payload in files.items():
        paths.append(write_atomically(out / name, payload))
    return paths
