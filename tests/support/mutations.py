"""Hostile edits to a bundle directory, for fuzzing the verifier (tests and bench/fuzz_verify.py)."""

from __future__ import annotations

import random
from pathlib import Path

from crosslab.bundle import layout

FILES = (layout.ITEMS, layout.PUBLIC, layout.RESTRICTED, layout.STATEMENT, layout.PROTOCOL,
         layout.PROTOCOL_SIGNATURES, layout.RESPONSE)
JUNK = (b"{", b"}", b'"', b"\\", b"\n", b"\x00", b"\xff", b"\xef\xbb\xbf", b"[/]", b"\x1b[2J", b"NaN",
        b'"i":1,"i":2', b"1e999", b"[" * 2000)


def mutate(bundle: Path, rng: random.Random) -> str:
    """Apply one random edit; returns what was done, for the failure message."""
    name = rng.choice(FILES)
    path = bundle / name
    data = path.read_bytes()
    op = rng.choice(("flip", "truncate", "insert", "duplicate_line", "drop_line", "replace"))
    at = rng.randrange(len(data) + 1) if data else 0
    if op == "flip" and data:
        at = min(at, len(data) - 1)
        data = data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]
    elif op == "truncate":
        data = data[:at]
    elif op == "insert":
        data = data[:at] + rng.choice(JUNK) + data[at:]
    elif op in ("duplicate_line", "drop_line") and data.count(b"\n") > 1:
        lines = data.split(b"\n")
        k = rng.randrange(len(lines))
        lines = lines[:k + 1] + lines[k:] if op == "duplicate_line" else lines[:k] + lines[k + 1:]
        data = b"\n".join(lines)
    else:
        data = rng.choice(JUNK) * rng.randrange(1, 4)
    path.write_bytes(data)
    return f"{op} {name} at {at}"
