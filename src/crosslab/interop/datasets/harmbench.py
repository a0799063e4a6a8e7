"""HarmBench behaviours (Mazeika et al., 2024).

Format, from the dataset's repository (github.com/centerforaisafety/HarmBench,
``data/behavior_datasets/harmbench_behaviors_text_all.csv`` and its ``_val`` /
``_test`` splits): header
``Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID``.
``FunctionalCategory`` is ``standard``, ``contextual`` or ``copyright``; a
contextual behaviour's request is sent after its context, as HarmBench's own
prompt does (context, a ``---`` rule, then the behaviour).
"""

from __future__ import annotations

from crosslab.interop.csvrows import Row
from crosslab.interop.datasets.base import Kind, Options, provenance, request_item
from crosslab.items.item import Item

NAME = "harmbench"


def convert(row: Row, options: Options) -> Item:
    behaviour, context = row.need("Behavior"), row.get("ContextString")
    text = f"{context}\n\n---\n\n{behaviour}" if context else behaviour
    return request_item(f"hb-{row.need('BehaviorID')}", NAME, text, harmful=True, options=options,
                        facets={"harm": row.need("SemanticCategory"), "functional": row.need("FunctionalCategory")},
                        metadata=provenance(NAME, row, behaviour=behaviour, tags=row.get("Tags")))


KIND = Kind(NAME, "HarmBench behaviours",
            ("Behavior", "FunctionalCategory", "SemanticCategory", "ContextString", "BehaviorID"), convert)
