"""Build the suite's items from its data files (facts, fabricated, false premises, corpus questions).

Item ids come from each row's ``key`` (never from a position), so adding rows
never changes an existing sample id. Items are interleaved slice by slice, so
``crosslab run --limit N`` samples every slice. Medicine and law items carry
``facets["domain"]``; the metrics report them together as ``high_stakes``.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from itertools import zip_longest
from typing import Any

import orjson
import yaml

from crosslab.suites.hallucination.corpus import Corpus, corpus
from crosslab.items.item import Item

CATEGORY = "hallucination"
HIGH_STAKES = ("medicine", "law")
PACKAGE = "crosslab.suites.hallucination"


def _read(name: str) -> str:
    return resources.files(PACKAGE).joinpath(f"data/{name}").read_text("utf-8")


def _jsonl(name: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in _read(name).splitlines() if line.strip()]


def prompts() -> dict[str, str]:
    return yaml.safe_load(_read("prompts.yaml"))


def _item(slice_: str, key: str, user: str, question: str, grading: dict[str, Any], facets: dict[str, str],
          system: str | None = None, metadata: dict[str, Any] | None = None, **extra: Any) -> Item:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    return Item(id=f"{CATEGORY}-{slice_.replace('_', '-')}-{key}", category=CATEGORY, slice=slice_,
                messages=messages, grading=grading, facets=facets, metadata={"question": question, **(metadata or {})}, **extra)


def facts_items(p: dict[str, str]) -> list[Item]:
    return [_item("facts", r["key"], p["facts"].format(question=r["question"]), r["question"],
                  {"type": "hallucination_answer", "gold": r["gold"], "aliases": r["aliases"], "confidence": True},
                  {"domain": r["domain"]})
            for r in _jsonl("facts.jsonl")]


def fabricated_items(p: dict[str, str]) -> list[Item]:
    return [_item("fabricated", r["key"], p["plain"].format(question=r["question"]), r["question"],
                  {"type": "hallucination_abstain"}, {"domain": r["domain"], "kind": r["kind"]})
            for r in _jsonl("fabricated.jsonl")]


def false_premise_items(p: dict[str, str]) -> tuple[list[Item], list[Item]]:
    false, true = [], []
    for r in _jsonl("false_premise.jsonl"):
        false.append(_item("false_premise", f"{r['key']}-false", p["plain"].format(question=r["false_question"]),
                           r["false_question"],
                           {"type": "hallucination_premise", "correction_terms": r["correction_terms"]},
                           {"domain": r["domain"], "premise": "false"}))
        true.append(_item("false_premise", f"{r['key']}-true", p["plain"].format(question=r["true_question"]),
                          r["true_question"],
                          {"type": "hallucination_answer", "gold": r["gold"], "aliases": r["aliases"]},
                          {"domain": r["domain"], "premise": "true"}))
    return false, true


def _choose(doc_id: str, options: list[str]) -> str:
    h = hashlib.sha256(f"{doc_id}/question".encode()).digest()
    return sorted(options)[int.from_bytes(h[:8], "big") % len(options)]


def citation_items(p: dict[str, str], docs: Corpus) -> list[Item]:
    spec = docs.spec
    items = []
    agent = {"interaction": "agent", "environment": "orlavia_corpus", "max_steps": 6,
             "metadata": {"corpus_digest": docs.digest()}}
    for n, doc in enumerate(docs.documents, start=1):
        if (n - 1) % int(spec["question_every"]):
            continue
        templates = spec["kinds"][doc.kind]["questions"]
        attribute = _choose(doc.id, list(templates))
        gold = doc.facts[attribute]
        names = {"name": doc.entity.split()[-1], "first": doc.entity.split()[0]}
        question = templates[attribute].format(**names)
        grading = {"type": "hallucination_citations", "answerable": True, "gold": gold,
                   "aliases": _aliases(attribute, gold, spec.get("aliases", {})),
                   "support": docs.supporting(doc.entity, gold)}
        items.append(_item("citations", f"{doc.id}-{attribute}", p["citations_user"].format(question=question),
                           question, grading, {"domain": "corpus", "answerable": "yes"},
                           system=p["citations_system"], **agent))
    _check_absent(spec, docs)
    for row in spec["absent"]:
        grading = {"type": "hallucination_citations", "answerable": False, "support": []}
        items.append(_item("citations", f"absent-{row['key']}", p["citations_user"].format(question=row["question"]),
                           row["question"], grading, {"domain": "corpus", "answerable": "no"},
                           system=p["citations_system"], **agent))
    return items


def _aliases(attribute: str, gold: str, table: dict[str, list[str]]) -> list[str]:
    """Accepted short forms: the surname of a person, and the corpus file's listed forms."""
    extra = [gold.split()[-1]] if attribute in ("founder", "engineer") else []
    return extra + list(table.get(gold, []))


def _check_absent(spec: dict[str, Any], docs: Corpus) -> None:
    """An 'absent' question must really be unanswerable: the name it asks about is in no document."""
    for row in spec["absent"]:
        if any(re.search(rf"\b{re.escape(row['name'])}\b", d.text, re.IGNORECASE) for d in docs.documents):
            raise ValueError(f"corpus question {row['key']!r} names something the corpus contains")


def build() -> list[Item]:
    p = prompts()
    false, true = false_premise_items(p)
    groups = [facts_items(p), fabricated_items(p), false, true, citation_items(p, corpus())]
    ordered = [i for row in zip_longest(*groups) for i in row if i is not None]
    ids = [i.id for i in ordered]
    if len(ids) != len(set(ids)):
        raise ValueError("hallucination: duplicate item ids")
    return ordered
