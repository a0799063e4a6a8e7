"""SimpleQA (Wei et al., 2024): short fact-seeking questions with one gold answer.

Format, from simple-evals (github.com/openai/simple-evals, ``simpleqa_eval.py``
reads ``simple_qa_test_set.csv``): header ``metadata,problem,answer``, where
``metadata`` is a Python dict literal (``topic``, ``answer_type``, ``urls``).
It is parsed with ``ast.literal_eval``, which evaluates literals only, never
code. Items are public and graded by the hallucination suite's answer grader
(correct / incorrect / not_attempted, as SimpleQA grades).
"""

from __future__ import annotations

import ast

from crosslab.core.canonical import sha256_hex
from crosslab.interop.csvrows import Row
from crosslab.interop.datasets.base import Kind, Options, provenance
from crosslab.interop.errors import InteropError
from crosslab.items.item import Item

NAME = "simpleqa"


def _metadata(row: Row) -> dict:
    raw = row.get("metadata")
    if not raw:
        return {}
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise InteropError(f"{row.where('metadata')}: not a Python dict literal") from None
    if not isinstance(value, dict):
        raise InteropError(f"{row.where('metadata')}: not a dict")
    return value


def convert(row: Row, options: Options) -> Item:
    question, answer, meta = row.need("problem"), row.need("answer"), _metadata(row)
    urls = meta.get("urls")
    return Item(id=f"simpleqa-{sha256_hex(question.encode())[:16]}", category=NAME, tier="public",
                messages=[{"role": "user", "content": question}],
                grading={"type": "hallucination_answer", "gold": answer, "aliases": []},
                facets={k: str(meta[key]) for k, key in (("topic", "topic"), ("answer_type", "answer_type"))
                        if isinstance(meta.get(key), str) and meta[key]},
                metadata=provenance(NAME, row, question=question,
                                    urls=[u for u in urls if isinstance(u, str)] if isinstance(urls, list) else None))


KIND = Kind(NAME, "SimpleQA", ("metadata", "problem", "answer"), convert)
