"""Public benchmark files in: each supported format read into crosslab items.

The files are public, but they are read at run time from a path the user gives
and never copied into crosslab: the harmful requests in them are not ours to
ship, and each dataset keeps its own licence (docs/interop.md lists them).
"""

from __future__ import annotations

from pathlib import Path

from crosslab.core.atomic import write_atomically
from crosslab.core.canonical import canonical_json
from crosslab.interop.csvrows import csv_rows
from crosslab.interop.datasets import harmbench, jailbreakbench, simpleqa, strongreject, xstest
from crosslab.interop.datasets.base import Kind, Options
from crosslab.interop.errors import InteropError
from crosslab.items.item import Item

KINDS: dict[str, Kind] = {k.name: k for k in (strongreject.KIND, harmbench.KIND, jailbreakbench.KIND,
                                              xstest.KIND, simpleqa.KIND)}

__all__ = ["KINDS", "Options", "read_dataset", "write_items"]


def read_dataset(kind: str, path: Path, options: Options = Options()) -> list[Item]:
    """Every row of ``path`` as an item; the first bad row stops it with one line naming row and column."""
    if kind not in KINDS:
        raise InteropError(f"unknown dataset kind {kind!r} (known: {', '.join(KINDS)})")
    spec = KINDS[kind]
    if options.benign and not spec.has_benign_set:
        raise InteropError(f"--benign applies to jailbreakbench only, not {kind}")
    items: list[Item] = []
    seen: dict[str, int] = {}
    for row in csv_rows(path, spec.columns):
        item = spec.convert(row, options)
        if item.id in seen:
            raise InteropError(f"{row.where()}: gives item id {item.id!r} again (row {seen[item.id]} gave it first)")
        seen[item.id] = row.number
        items.append(item)
    return items


def write_items(items: list[Item], out: Path) -> Path:
    """One canonical JSON item per line; 0600 when any item is not public (its text is not for everyone)."""
    data = b"".join(canonical_json(i.model_dump(mode="json")) + b"\n" for i in items)
    try:
        return write_atomically(out, data, private=any(i.tier != "public" for i in items))
    except OSError as exc:
        raise InteropError(f"{out}: cannot be written ({exc.strerror})") from None
