"""Read items from JSONL files, reporting the exact line of any bad item."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson
from pydantic import ValidationError

from crosslab.core.errors import CrosslabError
from crosslab.core.jsonl import jsonl_lines
from crosslab.items.item import Item


class ItemsError(CrosslabError, ValueError):
    """An items file that cannot be read; the message names the file and line."""


def parse_items(lines: Iterable[str], source: str) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = Item.model_validate(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise ItemsError(f"{source}:{number}: not valid JSON ({exc})") from exc
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ItemsError(f"{source}:{number}: {where + ': ' if where else ''}{err['msg']}") from exc
        if item.id in seen:
            raise ItemsError(f"{source}:{number}: duplicate item id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise ItemsError(f"{source}: no items")
    return items


def load_items_file(path: Path) -> list[Item]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ItemsError(f"cannot read items file {path}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ItemsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return parse_items(jsonl_lines(text), str(path))
