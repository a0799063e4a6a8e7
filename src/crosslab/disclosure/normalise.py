"""What a reader would see in a text, however it is dressed up: the leak scan matches on these views.

An obfuscated leak is still a leak: restricted text with zero-width
characters between letters, look-alike letters from other scripts, HTML or
URL escapes, or wrapped in base64 or hex reads the same to a person (or to a
one-line decoder). ``views`` returns the text normalised, plus every encoded
token in it decoded and normalised, one level deep.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
import urllib.parse
from collections.abc import Iterator

#: Letters of other scripts that look like Latin ones (Cyrillic, Greek), folded to the Latin letter.
HOMOGLYPHS = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "ո": "n",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
})
_B64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}){8,}\b")


def normalise(text: str) -> str:
    """Unescaped (HTML, URL), NFKC, invisible format characters removed, look-alike letters folded."""
    text = html.unescape(text)
    if "%" in text:
        text = urllib.parse.unquote(text)
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")  # zero-width, soft hyphen, BOM…
    return text.translate(HOMOGLYPHS)


def _readable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(c.isprintable() or c.isspace() for c in text)
    return text if text and printable >= 0.9 * len(text) else None


def decoded_tokens(text: str) -> Iterator[str]:
    """Each base64 (standard or URL-safe, padded or not) or hex token that decodes to readable text."""
    for match in _B64.finditer(text):
        token = match.group(0).rstrip("=")
        alphabet = "-_" if ("-" in token or "_" in token) else "+/"
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=alphabet.encode(), validate=True)
        except (binascii.Error, ValueError):
            continue
        if (found := _readable(raw)) is not None:
            yield found
    for match in _HEX.finditer(text):
        if (found := _readable(bytes.fromhex(match.group(0)))) is not None:
            yield found


def views(text: str) -> list[str]:
    """The text as a reader sees it, then each decoded token in it, all normalised."""
    shown = normalise(text)
    return [shown, *(normalise(t) for t in decoded_tokens(text))]
