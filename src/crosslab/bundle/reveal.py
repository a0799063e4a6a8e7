"""Publish chosen disclosures after the fact (``crosslab reveal``).

A reveal is a file ``reveals/NNNN.jsonl`` added to a published bundle, one
``{"i", "d"}`` line per revealed sample. It needs no new signature: each
disclosure opens the salted commitment ``c`` in the stub the evaluator signed
at publication, so a verifier checks it against the original stubs and
nothing else. The evaluator reads the disclosures from its private copy
(``<bundle>.private/disclosures.jsonl``, written with the bundle), or for
restricted items from ``restricted.age`` with its own age key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from crosslab.core.atomic import write_atomically
from crosslab.bundle import layout
from crosslab.bundle.stubs import encode_lines
from crosslab.bundle.writer import private_path
from crosslab.core.errors import CrosslabError
from crosslab.disclosure.encryption import decrypt_with
from crosslab.core.jcs import jcs


class RevealError(CrosslabError, ValueError):
    """The reveal can't be made; the message says why."""


def _entries(data: bytes) -> dict[int, str]:
    return {e["i"]: e["d"] for e in (orjson.loads(line) for line in data.splitlines() if line.strip())}


def available_disclosures(bundle: Path, age_identity: Any = None) -> dict[int, str]:
    """Every disclosure the evaluator holds: the private copy, else the decrypted restricted file."""
    private = private_path(bundle)
    if private.exists():
        return _entries(private.read_bytes())
    if age_identity is None:
        raise RevealError(f"no private copy at {private}; give the evaluator's lab (--as) to decrypt "
                          f"{layout.RESTRICTED} (withheld samples can only be revealed from the private copy)")
    return _entries(decrypt_with(age_identity, (bundle / layout.RESTRICTED).read_bytes()))


def refuse_repeats(folder: Path, indices: list[int]) -> None:
    """A stub is revealed once: a second copy of the same disclosure adds nothing and counts it twice."""
    if not folder.is_dir():
        return
    wanted = set(indices)
    for path in sorted(folder.glob("*.jsonl")):
        again = sorted(wanted & set(_entries(path.read_bytes())))
        if again:
            shown = ", ".join(map(str, again[:10])) + (" …" if len(again) > 10 else "")
            raise RevealError(f"stub(s) {shown} already revealed in {layout.REVEALS}/{path.name}; "
                              "nothing was written (leave them out of --items)")


def reveal(bundle: Path, indices: list[int], age_identity: Any = None) -> Path:
    """Write the next ``reveals/NNNN.jsonl`` with the chosen samples' disclosures; returns its path."""
    stubs = [orjson.loads(line) for line in (bundle / layout.ITEMS).read_bytes().splitlines()]
    if not indices:
        raise RevealError("choose at least one stub index to reveal")
    for i in indices:
        if not 0 <= i < len(stubs):
            raise RevealError(f"stub {i} does not exist (the bundle has {len(stubs)} stubs)")
        if stubs[i]["tier"] == "public":
            raise RevealError(f"stub {i} is public: its disclosure is already in {layout.PUBLIC}")
    held = available_disclosures(bundle, age_identity)
    missing = [i for i in indices if i not in held]
    if missing:
        raise RevealError(f"no disclosure held for stub(s) {missing[:5]} (withheld samples need the private copy)")
    folder = bundle / layout.REVEALS
    refuse_repeats(folder, indices)
    folder.mkdir(exist_ok=True)
    number = 1 + max((int(p.stem) for p in folder.glob("*.jsonl") if p.stem.isdigit()), default=0)
    path = folder / f"{number:04d}.jsonl"
    return write_atomically(path, encode_lines(jcs({"i": i, "d": held[i]}) for i in sorted(set(indices))))
