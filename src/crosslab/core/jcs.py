"""RFC 8785 JSON Canonicalization Scheme for published documents.

Anything another party must re-hash independently (the protocol, bundle
statements) is canonicalised with JCS, a public standard with implementations
in many languages. Internal ids (sample ids, journal record hashes) use the
faster orjson form in ``canonical.py``; the two agree except for keys with
characters outside the Basic Multilingual Plane and integers beyond 2^53.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def jcs(value: Any) -> bytes:
    """The RFC 8785 canonical bytes of a JSON-compatible value."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise ValueError(f"value cannot be canonicalised as JSON (RFC 8785): {exc}") from exc


def jcs_digest(value: Any) -> str:
    return hashlib.sha256(jcs(value)).hexdigest()
