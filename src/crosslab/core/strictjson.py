"""Strict JSON for signed documents: one reading only, whoever parses it.

Duplicate keys (which parsers resolve differently: last wins here, first wins
elsewhere), a byte-order mark, invalid UTF-8 and the non-standard constants
NaN and Infinity are refused, so a signed statement means one thing to every
reader.
"""

from __future__ import annotations

import json
from typing import Any

from crosslab.core.errors import CrosslabError


class StrictJSONError(CrosslabError, ValueError):
    """Not strict JSON; the message says why in one line."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise StrictJSONError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise StrictJSONError(f"non-standard constant {name}")


#: A decoder with the same rules, for reading JSON objects embedded in other text
#: (``raw_decode``); it raises StrictJSONError (a ValueError) on a duplicate key or constant.
STRICT_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def loads_strict(data: bytes | str) -> Any:
    if isinstance(data, bytes):
        if data.startswith(b"\xef\xbb\xbf"):
            raise StrictJSONError("starts with a byte-order mark")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StrictJSONError(f"not valid UTF-8 (byte {exc.start})") from None
    elif data.startswith("\ufeff"):
        raise StrictJSONError("starts with a byte-order mark")
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except StrictJSONError:
        raise
    except (json.JSONDecodeError, RecursionError) as exc:
        raise StrictJSONError(str(exc) if isinstance(exc, json.JSONDecodeError)
                              else "nested too deeply") from None
