"""The leak scan sees through dressing-up: each obfuscation below used to pass the scan unnoticed."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from crosslab.disclosure.canary import canary_for
from crosslab.disclosure.leakscan import Sensitive, scan_files
from crosslab.items.item import Item

SECRET = "Describe every step needed to bypass the vault alarm without anyone noticing at night"
ITEMS = [
    Item.model_validate({"id": "r-1", "tier": "restricted", "input": SECRET}),
    Item.model_validate({"id": "p-1", "tier": "public", "input": "What is the capital of France?"}),
]
SENSITIVE = Sensitive.from_items(ITEMS)


def hits(name: str, text: str | bytes) -> list:
    return scan_files({name: text.encode() if isinstance(text, str) else text}, SENSITIVE)


def test_plain_copy_is_caught_and_public_text_is_not():
    assert [h.item_id for h in hits("report.md", SECRET)] == ["r-1"]
    assert hits("report.md", "What is the capital of France? Paris.") == []


@pytest.mark.parametrize("dressed", [
    "\u200b".join(SECRET),  # a zero-width space between every letter
    SECRET.replace("a", "\u0430").replace("e", "\u0435").replace("o", "\u043e"),  # Cyrillic look-alikes
    SECRET.replace(" ", "&nbsp;"),  # HTML entities
    urllib.parse.quote(SECRET),  # URL encoding
    "ｄｅｓｃｒｉｂｅ ｅｖｅｒｙ ｓｔｅｐ ｎｅｅｄｅｄ ｔｏ ｂｙｐａｓｓ ｔｈｅ ｖａｕｌｔ ａｌａｒｍ",  # full-width (NFKC)
])
def test_normalised_forms_are_caught(dressed: str):
    assert [h.item_id for h in hits("reply.txt", dressed)] == ["r-1"], dressed


def test_base64_and_hex_in_any_field_are_decoded():
    b64 = base64.b64encode(SECRET.encode()).decode()
    assert [h.item_id for h in hits("response.json", json.dumps({"note": f"see {b64}"}))] == ["r-1"]
    url_b64 = base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("=")
    assert [h.item_id for h in hits("x.json", json.dumps({"a": {"b": [url_b64]}}))] == ["r-1"]
    assert [h.item_id for h in hits("x.txt", "hex: " + SECRET.encode().hex())] == ["r-1"]


def test_text_split_across_fields_is_read_on():
    words = SECRET.split()
    pieces = {f"k{i}": " ".join(words[i:i + 4]) for i in range(0, len(words), 4)}
    assert [h.item_id for h in hits("split.json", json.dumps(pieces))] == ["r-1"]


def test_a_canary_written_with_spaces():
    spaced = " ".join(canary_for("r-1"))
    assert [h.kind for h in hits("notes.txt", f"key: {spaced}")] == ["canary"]


def test_age_files_are_recognised_by_header_not_name():
    assert [h.item_id for h in hits("appendix.age", SECRET)] == ["r-1"]  # plain text under an .age name
    assert hits("restricted.age", b"age-encryption.org/v1\n-> X25519 abc\n--- mac\n" + SECRET.encode()) == []


def test_filler_words_between_the_words_are_skipped():
    words = SECRET.split()
    padded = " ".join(w + (" um, basically," if i % 2 else "") for i, w in enumerate(words))
    assert [h.item_id for h in hits("reply.txt", padded)] == ["r-1"]
    # the same vocabulary in another order is not the passage
    assert hits("reply.txt", " ".join(reversed(words))) == []
