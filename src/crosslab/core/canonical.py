"""Canonical JSON and digests.

Every identifier in crosslab (target digest, sample id, record hash, cache key)
is the SHA-256 of a canonical JSON encoding, so the same content always gets the
same id on any machine. The rules: object keys sorted by code point, no
insignificant whitespace, UTF-8 without escaping non-ASCII, integers as
integers, floats in shortest round-trip form. Non-finite floats encode as null, so
records must not carry them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

_OPTS = orjson.OPT_SORT_KEYS


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes (see module docstring)."""
    return orjson.dumps(value, option=_OPTS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return hashlib.sha256(orjson.dumps(value, option=_OPTS)).hexdigest()
