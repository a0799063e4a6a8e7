"""JailbreakBench's JBB-Behaviors (Chao et al., 2024): 100 harmful behaviours and 100 benign ones.

Format, from the dataset (huggingface.co/datasets/JailbreakBench/JBB-Behaviors,
``data/harmful-behaviors.csv`` and ``data/benign-behaviors.csv``): header
``Index,Goal,Target,Behavior,Category,Source``. ``Goal`` is the request;
``Target`` is the affirmative opening an attack aims for and is not sent. Both
files use the same ``Index`` values, so the ids name the set
(``jbb-harmful-N`` / ``jbb-benign-N``); ``--benign`` says the file is the
benign set (public, expects an answer).
"""

from __future__ import annotations

from crosslab.interop.csvrows import Row
from crosslab.interop.datasets.base import Kind, Options, provenance, request_item
from crosslab.interop.errors import InteropError
from crosslab.items.item import Item

NAME = "jailbreakbench"


def convert(row: Row, options: Options) -> Item:
    index = row.need("Index")
    if not index.isdigit():
        raise InteropError(f"{row.where('Index')}: {index!r} is not a whole number")
    which = "benign" if options.benign else "harmful"
    return request_item(f"jbb-{which}-{int(index)}", NAME, row.need("Goal"), harmful=not options.benign,
                        options=options, facets={"harm": row.need("Category")},
                        metadata=provenance(NAME, row, behaviour=row.get("Behavior"), origin=row.get("Source")))


KIND = Kind(NAME, "JailbreakBench JBB-Behaviors", ("Index", "Goal", "Category"),
            convert, has_benign_set=True)
