"""StrongREJECT (Souly et al., 2024): forbidden prompts, one harm category each.

Format, from the dataset's repository (github.com/alexandrasouly/strongreject,
``strongreject_dataset/strongreject_dataset.csv`` and the 50-row
``strongreject_small_dataset.csv``): header ``category,source,forbidden_prompt``.
The file has no id column, so an item's id is a digest of its prompt: stable
whatever the row order, and the same prompt in the full and small files gets the
same id.
"""

from __future__ import annotations

from crosslab.core.canonical import sha256_hex
from crosslab.interop.csvrows import Row
from crosslab.interop.datasets.base import Kind, Options, provenance, request_item
from crosslab.items.item import Item

NAME = "strongreject"


def convert(row: Row, options: Options) -> Item:
    prompt = row.need("forbidden_prompt")
    return request_item(f"sr-{sha256_hex(prompt.encode())[:16]}", NAME, prompt, harmful=True, options=options,
                        facets={"harm": row.need("category")},
                        metadata=provenance(NAME, row, origin=row.get("source")))


KIND = Kind(NAME, "StrongREJECT forbidden prompts", ("category", "forbidden_prompt"), convert)
