"""The closed-world corpus of the citations slice, generated from ``data/corpus.yaml``.

Why generated: a citation can only be checked against a collection whose every
document is known. Document ``doc-NNN`` gets its kind, name and attribute values
from SHA-256 of its own id, so the corpus is reproducible byte for byte and adding
documents never changes existing ones. Its digest goes into every citation item,
so a changed corpus changes the suite's content digest.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from crosslab.core.canonical import digest


@dataclass(frozen=True)
class Document:
    id: str
    kind: str
    title: str
    text: str
    #: The entity's name as questions use it, and its attribute values (as text).
    entity: str
    facts: dict[str, str]

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "text": self.text}


@dataclass(frozen=True)
class Corpus:
    documents: tuple[Document, ...]
    spec: dict[str, Any]

    @property
    def by_id(self) -> dict[str, Document]:
        return {d.id: d for d in self.documents}

    def digest(self) -> str:
        return digest([d.to_dict() for d in self.documents])

    def supporting(self, entity: str, value: str) -> list[str]:
        """Ids of the documents about ``entity`` that state ``value`` (only its own document does)."""
        return [d.id for d in self.documents if d.entity == entity and value in d.facts.values()]


def _pick(doc_id: str, attribute: str, size: int) -> int:
    h = hashlib.sha256(f"{doc_id}/{attribute}".encode()).digest()
    return int.from_bytes(h[:8], "big") % size


def _value(doc_id: str, attribute: str, pool: Any) -> str:
    if isinstance(pool, dict):  # a numeric range
        lo, hi = int(pool["min"]), int(pool["max"])
        return str(lo + _pick(doc_id, attribute, hi - lo + 1))
    return str(pool[_pick(doc_id, attribute, len(pool))])


def _text(template: str, values: dict[str, str]) -> str:
    return " ".join(template.format(**values).split())


def generate(spec: dict[str, Any]) -> Corpus:
    kinds = spec["kinds"]
    kind_names = sorted(kinds)
    starts, ends = spec["name_parts"]["start"], spec["name_parts"]["end"]
    used: set[str] = set()
    documents = []
    for n in range(1, int(spec["count"]) + 1):
        doc_id = f"doc-{n:03d}"
        kind = kind_names[_pick(doc_id, "kind", len(kind_names))]
        k = _pick(doc_id, "name", len(starts) * len(ends))
        while True:  # names are unique: the first free one from the hashed start, in id order
            name = starts[k // len(ends) % len(starts)] + ends[k % len(ends)]
            if name not in used:
                break
            k += 1
        used.add(name)
        values = {"name": name, "country": spec["country"]}
        for attribute, pool in kinds[kind]["attributes"].items():
            values[attribute] = _value(doc_id, attribute, pool)
        entity = f"{values['first']} {name}" if "first" in values else name
        facts = {a: values[a] for a in kinds[kind]["attributes"]}
        documents.append(Document(doc_id, kind, _text(kinds[kind]["title"], values),
                                  _text(kinds[kind]["text"], values), entity, facts))
    return Corpus(tuple(documents), spec)


def load_spec() -> dict[str, Any]:
    text = resources.files("crosslab.suites.hallucination").joinpath("data/corpus.yaml").read_text("utf-8")
    return yaml.safe_load(text)


@cache
def corpus() -> Corpus:
    return generate(load_spec())


_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = {"the", "a", "an", "of", "in", "on", "at", "is", "was", "what", "which", "who", "how", "many",
         "did", "does", "year", "orlavian", "orlavia", "and", "to", "for", "by", "it", "its", "when"}


def _tokens(text: str) -> set[str]:
    return {t for t in _TOKEN.findall(text.lower()) if t not in _STOP}


def search(c: Corpus, query: str, k: int = 3) -> list[Document]:
    """Documents ranked by shared words with the query (title words count double); ties by id."""
    wanted = _tokens(query)
    if not wanted:
        return []
    scored = []
    for d in c.documents:
        score = len(wanted & _tokens(d.text)) + len(wanted & _tokens(d.title))
        if score:
            scored.append((-score, d.id, d))
    return [d for _, _, d in sorted(scored)[:k]]
