"""JSON-lines files of a bundle: each line one RFC 8785 object, each ended by a newline, checked strictly.

Stubs are Merkle leaves and disclosures are commitments' openings, so a line
is accepted only in its one canonical form: the same value written another
way would be a different leaf.
"""

from __future__ import annotations

from typing import Any

import orjson

from crosslab.attest.errors import VerificationError
from crosslab.core.jcs import jcs


def split_lines(data: bytes, name: str) -> list[bytes]:
    """The lines of ``data`` without their newlines; a missing final newline means truncation."""
    if data and not data.endswith(b"\n"):
        raise VerificationError(f"{name}: truncated (the last line has no newline)")
    return data.split(b"\n")[:-1] if data else []


def parse_line(line: bytes, name: str, number: int) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise VerificationError(f"{name}:{number}: not valid JSON ({exc})") from None
    if not isinstance(value, dict) or not is_canonical(value, line):
        raise VerificationError(f"{name}:{number}: not a canonical JSON object")
    return value


def json_lines(data: bytes, name: str) -> list[tuple[bytes, dict[str, Any]]]:
    """(line, object) for every line of a JSON-lines file, numbered from 1 in errors."""
    return [(line, parse_line(line, name, number)) for number, line in enumerate(split_lines(data, name), start=1)]


def is_canonical(value: dict[str, Any], line: bytes) -> bool:
    """Is ``line`` the RFC 8785 form of ``value``?

    orjson's sorted compact output equals JCS for the values bundles hold
    (ASCII keys, safe integers, ordinary floats) and is ~20x faster, so it is
    tried first; anything it doesn't reproduce is checked with full JCS.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == line or jcs(value) == line
