"""The leak scan: public artifacts must not carry restricted or withheld text, or a canary.

What counts as sensitive is the *authored* content of non-public items (their
messages and follow-up turns), minus any passage that also appears in a public
item (a shared system prompt or attack template is public by the authors'
own choice). A hit is a run of at least ``SHINGLE`` words of sensitive text
(or a whole sensitive text of ``MIN_WORDS`` words or more), or any canary
token. Model responses are not scanned for: they follow their sample's tier
into the right file by construction, and generic replies ("I can't help with
that") would make every bundle fail.

Public artifacts are scanned as a reader would see them: disclosures and
DSSE payloads are decoded first, HTML entities unescaped.

A bundle's later reveals (``reveals/NNNN.jsonl``) legitimately carry the
restricted items they reveal, so each reveal file may carry the text and
canary of the items its own disclosure lines name, and nothing else; a file
there that is not made only of disclosure lines is scanned like any other.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import orjson

from crosslab.attest.errors import VerificationError
from crosslab.disclosure.canary import PATTERN as CANARY, canary_for
from crosslab.disclosure.commitments import open_disclosure
from crosslab.disclosure.normalise import views
from crosslab.items.item import Item

SHINGLE = 8
MIN_WORDS = 4
_WORD = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")
#: A later reveal in a bundle (bundle/layout.py REVEALS), at any depth under the scanned directory.
REVEAL_FILE = re.compile(r"(?:.*/)?reveals/[0-9]{4}\.jsonl")
#: Encrypted files are recognised by the age header, never by their name.
AGE_HEADER = b"age-encryption.org/v1\n"


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _grams(tokens: list[str], n: int) -> Iterator[tuple[str, ...]]:
    for i in range(len(tokens) - n + 1):
        yield tuple(tokens[i:i + n])


def authored_texts(item: Item) -> list[str]:
    return [m["content"] for m in item.messages] + list(item.followups)


@dataclass
class Sensitive:
    """Word sequences that must not appear in public, each mapped to the item it came from."""

    grams: dict[int, dict[tuple[str, ...], str]] = field(default_factory=dict)
    #: Each non-public item's authored texts: what a reveal of that item may carry (``allowance``).
    texts: dict[str, list[str]] = field(default_factory=dict)
    #: Every word of the sensitive texts: words outside it are filler to an attacker, and are skipped
    #: in a second pass, so "tell me, um, basically how to…" still matches "tell me how to…".
    vocabulary: frozenset[str] = frozenset()

    @classmethod
    def from_items(cls, items: Iterable[Item]) -> Sensitive:
        items = list(items)
        public: dict[int, set[tuple[str, ...]]] = {}
        secret: list[tuple[str, list[str]]] = []
        for item in items:
            for text in authored_texts(item):
                tokens = words(text)
                if item.tier == "public":
                    for n in range(MIN_WORDS, SHINGLE + 1):
                        public.setdefault(n, set()).update(_grams(tokens, n))
                elif len(tokens) >= MIN_WORDS:
                    secret.append((item.id, tokens))
        found = cls(vocabulary=frozenset(t for _, tokens in secret for t in tokens),
                    texts={i.id: authored_texts(i) for i in items if i.tier != "public"})
        for item_id, tokens in secret:
            n = min(len(tokens), SHINGLE)
            for gram in _grams(tokens, n):
                if gram not in public.get(n, ()):
                    found.grams.setdefault(n, {}).setdefault(gram, item_id)
        return found

    def with_texts(self, source: str, texts: Iterable[str]) -> Sensitive:
        """A copy that also treats ``texts`` as sensitive, under ``source`` (e.g. an adaptive attack's
        winning prompts and transcripts, which are elicitations and never authored items)."""
        grams = {n: dict(table) for n, table in self.grams.items()}
        kept = [t for t in texts if len(words(t)) >= MIN_WORDS]
        for text in kept:
            tokens = words(text)
            n = min(len(tokens), SHINGLE)
            for gram in _grams(tokens, n):
                grams.setdefault(n, {}).setdefault(gram, source)
        extra = frozenset(t for text in kept for t in words(text))
        return Sensitive(grams, {**self.texts, source: [*self.texts.get(source, []), *kept]},
                         self.vocabulary | extra)

    def matches(self, view: str) -> Iterator[tuple[tuple[str, ...], str]]:
        """(gram, item id) for each sensitive run of words in ``view``, also with filler words skipped."""
        tokens = words(view)
        kept = [t for t in tokens if t in self.vocabulary]
        for n, table in self.grams.items():
            for gram in chain(_grams(tokens, n), _grams(kept, n) if len(kept) < len(tokens) else ()):
                item_id = table.get(gram)
                if item_id is not None:
                    yield gram, item_id

    def allowance(self, item_ids: Iterable[str]) -> Allowance:
        """What a reveal of these items may carry: their canaries, and every sensitive run of words
        their own authored text shows when read as the scan reads it (decoded, normalised), which
        includes passages they share with other items."""
        item_ids = frozenset(item_ids)
        return Allowance(frozenset(canary_for(i) for i in item_ids),
                         frozenset(gram for i in item_ids for text in self.texts.get(i, ())
                                   for view in views(text) for gram, _ in self.matches(view)))

    def __len__(self) -> int:
        return sum(len(g) for g in self.grams.values())


@dataclass(frozen=True)
class Allowance:
    """What one file may carry without a hit (a reveal file: the items it reveals)."""

    canaries: frozenset[str] = frozenset()
    grams: frozenset[tuple[str, ...]] = frozenset()


NOTHING = Allowance()


@dataclass(frozen=True)
class Hit:
    artifact: str  # "public.jsonl:3" — file and line (or entry) where it was found
    kind: str  # "canary" | "restricted text"
    item_id: str | None
    excerpt: str  # the first words only: the scan report must not itself leak

    def __str__(self) -> str:
        source = f" of item {self.item_id}" if self.item_id else ""
        return f"{self.artifact}: {self.kind}{source} ({self.excerpt})"


def scan_text(artifact: str, text: str, sensitive: Sensitive, allowed: Allowance = NOTHING) -> list[Hit]:
    """Canaries (also written with spaces) and runs of sensitive words in every view of ``text``
    (normalised, and each base64/hex token decoded: disclosure/normalise.py), less what is ``allowed``."""
    hits: list[Hit] = []
    canaries: set[str] = set(allowed.canaries)
    seen: set[str] = set()
    for view in views(text):
        for m in CANARY.finditer(_SPACES.sub("", view)):
            if m.group(0).lower() not in canaries:
                canaries.add(m.group(0).lower())
                hits.append(Hit(artifact, "canary", None, m.group(0)[:24] + "…"))
        for gram, item_id in sensitive.matches(view):
            if item_id not in seen and gram not in allowed.grams:
                seen.add(item_id)
                hits.append(Hit(artifact, "restricted text", item_id, " ".join(gram[:3]) + " …"))
    return hits


def _strings(value: Any, keys: list[str]) -> Iterator[str]:
    """The string values in document order (so text split across fields reads on); keys go to ``keys``."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            keys.append(k)
            yield from _strings(v, keys)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, keys)


def _decode_b64(text: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) if "-" in text or "_" in text \
            else base64.b64decode(text + "=" * (-len(text) % 4))
        return raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _as_text(decoded: str) -> str:
    """JSON is flattened to its strings (so escapes don't split words); anything else is kept."""
    try:
        keys: list[str] = []
        values = list(_strings(orjson.loads(decoded), keys))
        return "\n".join(values) + "\n\n" + "\n".join(keys)
    except orjson.JSONDecodeError:
        return decoded


def readable_views(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    """(artifact label, text) pairs: the file as text, plus decoded disclosures and DSSE payloads."""
    text = data.decode("utf-8", errors="replace")
    yield name, text
    if text.lstrip().startswith(("{", "[")):
        flat = _as_text(text)
        if flat is not text:
            yield name, flat
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("{"):
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        for key in ("d", "payload"):  # a disclosure line, or a one-line DSSE envelope
            encoded = value.get(key) if isinstance(value, dict) else None
            decoded = _decode_b64(encoded) if isinstance(encoded, str) else None
            if decoded:
                yield f"{name}:{number}", _as_text(decoded)


def revealed_items(data: bytes) -> frozenset[str] | None:
    """The item ids a reveal file's disclosures name, or None if any line is not a disclosure line.

    Only the form is checked: whether each disclosure opens a commitment the
    evaluator signed is ``crosslab verify``'s check 11, not the scan's.
    """
    items: set[str] = set()
    lines = data.split(b"\n")
    for line in lines[:-1] if lines[-1] == b"" else lines:  # every line ends with a newline
        try:
            entry = orjson.loads(line)
            if not isinstance(entry, dict) or set(entry) != {"d", "i"} or type(entry["i"]) is not int:
                return None
            _salt, value = open_disclosure(entry["d"])
            item_id = value["record"]["item_id"]
        except (orjson.JSONDecodeError, VerificationError, TypeError, KeyError):
            return None
        if not isinstance(item_id, str):
            return None
        items.add(item_id)
    return frozenset(items)


def reveal_allowance(files: Mapping[str, bytes]) -> dict[str, frozenset[str]]:
    """For each reveal file (``REVEAL_FILE``, made only of disclosure lines): the items it may carry."""
    allowance: dict[str, frozenset[str]] = {}
    for name, data in files.items():
        if REVEAL_FILE.fullmatch(name) and (items := revealed_items(data)) is not None:
            allowance[name] = items
    return allowance


def scan_files(files: Mapping[str, bytes], sensitive: Sensitive,
               revealed: Mapping[str, Set[str]] | None = None) -> list[Hit]:
    """Scan named public artifacts (encrypted files are skipped by their age header, never by name).

    ``revealed`` (``reveal_allowance``): per file, the items whose text and canary it may carry."""
    hits: list[Hit] = []
    for name, data in sorted(files.items()):
        if data.startswith(AGE_HEADER):  # encrypted, whatever its name; a plain file named *.age is scanned
            continue
        allowed = sensitive.allowance(revealed[name]) if revealed and name in revealed else NOTHING
        found: dict[tuple[str, str | None], Hit] = {}  # views overlap: one hit per file, kind and item
        for label, text in readable_views(name, data):
            for hit in scan_text(label, text, sensitive, allowed):
                key = (hit.kind, hit.item_id if hit.kind != "canary" else hit.excerpt)
                if key not in found or (":" in hit.artifact and ":" not in found[key].artifact):
                    found[key] = hit  # the most precise place: a line beats the whole file
        hits.extend(found.values())
    return hits
