"""XSTest prompts (Röttger et al., 2024): safe prompts that sound unsafe, and unsafe contrasts.

Format, from the dataset's repository (github.com/paul-rottger/xstest,
``xstest_prompts.csv``): header ``id,prompt,type,label,focus,note``; ``label``
is ``safe`` or ``unsafe`` and ``type`` names the prompt type (``homonyms``,
``contrast_homonyms``, ...). Only the prompts are read (not the model
completions the repository also ships). Safe prompts are public items that
expect an answer (over-refusal); unsafe ones are harmful requests.
"""

from __future__ import annotations

from crosslab.interop.csvrows import Row
from crosslab.interop.datasets.base import Kind, Options, provenance, request_item
from crosslab.interop.errors import InteropError
from crosslab.items.item import Item

NAME = "xstest"


def convert(row: Row, options: Options) -> Item:
    label = row.need("label")
    if label not in ("safe", "unsafe"):
        raise InteropError(f"{row.where('label')}: {label!r}, expected 'safe' or 'unsafe'")
    return request_item(f"xstest-{row.need('id')}", NAME, row.need("prompt"), harmful=label == "unsafe",
                        options=options, facets={"type": row.need("type")},
                        metadata=provenance(NAME, row, focus=row.get("focus"), note=row.get("note")))


KIND = Kind(NAME, "XSTest prompts", ("id", "prompt", "type", "label"), convert)
