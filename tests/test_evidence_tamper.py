"""Tamper tests over the evidence package format: 1,200 hostile edits to a real, cosigned package, every one
detected with one line, none escaping as another exception.

The package is lab-b's record from a real registry (the protocol, lab-a's
bundle about lab-b, lab-b's countersignature), cosigned by two witnesses.
Edits: byte flips, truncations and insertions in the file; dropped,
duplicated, reordered and re-indexed entries and leaves; files swapped or
moved between entries, renamed, edited; leaves edited; proofs replaced,
cut or lengthened; the checkpoint note edited; and, as a log operator who
holds the log key would, bundle files changed with the leaf, root, proofs,
signature and cosignatures all made to match, so that only the bundle
verifier can catch them.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from crosslab.evidence import EvidenceError, EvidencePackage, PackagedEntry, Trust, decode_package, encode_package
from crosslab.evidence import verify_package
from tests.support.evidence_world import cosign, published_round, relogged, two_witnesses

from conftest import run_cli

CHEAP = 1150  # edits caught before any bundle is re-verified
DEEP = 50  # edits by someone holding the log key: caught by the bundle verifier
JUNK = (b"{", b"}", b'"', b"\\", b"\n", b"\x00", b"\xff", b" ", b",", b"[]", b'"index":1', b"\xe2\x80\x94", b"=")


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("evidence-tamper")
    with published_round(root) as (_, server):
        path = root / "lab-b.evidence"
        done = run_cli("evidence", "pack", "--registry", server.url, "--vendor", "lab-b", "--out", str(path),
                       "--quiet")
        assert done.returncode == 0, done.stderr
        witnesses = two_witnesses()
        data = cosign(path.read_bytes(), *witnesses)
        trust = Trust.parse(server.log_key.verifier_key(), [w.verifier_key() for w in witnesses])
        yield {"data": data, "trust": trust, "published": {"server": server, "witnesses": witnesses}}


def _flip(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]


def _byte_edit(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    op = rng.choice(("flip", "flip", "truncate", "insert", "delete"))
    at = rng.randrange(len(data))
    if op == "flip":
        return op, _flip(data, rng)
    if op == "truncate":
        return op, data[:at]
    if op == "insert":
        return op, data[:at] + rng.choice(JUNK) + data[at:]
    return op, data[:at] + data[at + rng.randrange(1, 200):]


def _entry(e: PackagedEntry, **changes: object) -> PackagedEntry:
    return replace(e, **changes)  # type: ignore[arg-type]


def _structural_edit(p: EvidencePackage, rng: random.Random) -> tuple[str, bytes]:
    entries, leaves = list(p.entries), list(p.leaves)
    k = rng.randrange(len(entries))
    e = entries[k]
    op = rng.choice(("drop_entry", "duplicate_entry", "swap_entries", "reindex", "drop_leaf", "duplicate_leaf",
                     "swap_leaves", "edit_leaf", "swap_files", "move_file", "rename_file", "edit_file",
                     "drop_file", "replace_proof", "cut_proof", "extend_proof", "vendor", "note_line"))
    if op == "drop_entry":
        del entries[k]
    elif op == "duplicate_entry":
        entries.insert(k, e)
    elif op == "swap_entries":
        j = rng.randrange(len(entries))
        entries[k], entries[j] = entries[j], entries[k]
    elif op == "reindex":
        entries[k] = _entry(e, index=rng.choice((e.index + 1, e.index - 1 if e.index else 7, len(leaves))))
    elif op == "drop_leaf":
        del leaves[rng.randrange(len(leaves))]
    elif op == "duplicate_leaf":
        i = rng.randrange(len(leaves))
        leaves.insert(i, leaves[i])
    elif op == "swap_leaves":
        i, j = rng.sample(range(len(leaves)), 2)
        leaves[i], leaves[j] = leaves[j], leaves[i]
    elif op == "edit_leaf":
        i = rng.randrange(len(leaves))
        leaves[i] = _flip(leaves[i], rng)
    elif op in ("swap_files", "move_file"):
        j = rng.randrange(len(entries))
        other = entries[j]
        a, b = rng.choice(sorted(e.files)), rng.choice(sorted(other.files))
        ef = dict(e.files)
        of = ef if j == k else dict(other.files)
        if op == "swap_files":
            ef[a], of[b] = other.files[b], e.files[a]
        else:
            of[b + ".moved" if j == k else a] = ef.pop(a)
        entries[k] = _entry(e, files=ef)
        entries[j] = _entry(other, files=of)
    elif op == "rename_file":
        files = dict(e.files)
        name = rng.choice(sorted(files))
        files[rng.choice(("reveals/0001.jsonl", "response.dsse.json", "declined.dsse.json", "items.jsonl"))] = \
            files.pop(name)
        entries[k] = _entry(e, files=files)
    elif op == "edit_file":
        files = dict(e.files)
        name = rng.choice(sorted(files))
        files[name] = _byte_edit(files[name], rng)[1] if files[name] else b"x"
        entries[k] = _entry(e, files=files)
    elif op == "drop_file":
        files = dict(e.files)
        del files[rng.choice(sorted(files))]
        entries[k] = _entry(e, files=files) if files else e
        if not files:
            del entries[k]
    elif op == "replace_proof":
        other = entries[rng.randrange(len(entries))]
        proof = other.proof if other.proof != e.proof and rng.random() < 0.5 else \
            tuple(rng.randbytes(32) for _ in e.proof) or (rng.randbytes(32),)
        entries[k] = _entry(e, proof=proof)
    elif op == "cut_proof":
        entries[k] = _entry(e, proof=e.proof[:-1] if e.proof else (rng.randbytes(32),))
    elif op == "extend_proof":
        entries[k] = _entry(e, proof=e.proof + (rng.choice(e.proof) if e.proof else rng.randbytes(32),))
    elif op == "vendor":
        return op, encode_package(replace(p, vendor=rng.choice(("lab-a", "lab-c", "lab-bb", "LAB-B"))))
    elif op == "note_line":
        lines = p.checkpoint.split(b"\n")
        i = rng.randrange(len(lines))
        choice = rng.random()
        lines = lines[:i] + lines[i + 1:] if choice < 0.4 else lines[:i] + [lines[i]] + lines[i:] if choice < 0.7 \
            else lines[:i] + [_flip(lines[i], rng) if lines[i] else b"x"] + lines[i + 1:]
        return op, encode_package(replace(p, checkpoint=b"\n".join(lines)))
    return op, _encode_raw(p, entries, leaves)


def _encode_raw(p: EvidencePackage, entries: list[PackagedEntry], leaves: list[bytes]) -> bytes:
    """Canonical bytes even for out-of-order or duplicated entries (the reader must still refuse them)."""
    return encode_package(replace(p, entries=tuple(entries), leaves=tuple(leaves)))


def _deep_edit(p: EvidencePackage, rng: random.Random, published: dict) -> tuple[str, bytes]:
    """Change a signed bundle file and make the log agree: leaf, root, proofs, note, cosignatures."""
    e = rng.choice([x for x in p.entries if x.index in (1, 2)])
    name = rng.choice(sorted(n for n in e.files if n not in ("protocol.json", "protocol.dsse.json")))
    data = e.files[name]
    op = rng.choice(("flip", "drop_line", "swap_lines"))
    lines = data.split(b"\n")
    if op == "flip" or len(lines) < 3:
        op, data = "flip", _flip(data, rng)
    elif op == "drop_line":
        del lines[rng.randrange(len(lines) - 1)]
        data = b"\n".join(lines)
    else:
        i, j = rng.sample(range(len(lines) - 1), 2)
        lines[i], lines[j] = lines[j], lines[i]
        data = b"\n".join(lines)
    return f"relogged {op} {name} in entry {e.index}", relogged(p, e.index, {**e.files, name: data}, published)


def _detected(data: bytes, original: bytes, trust: Trust, what: str) -> str:
    assert data != original, what
    try:
        verify_package(data, trust)
    except EvidenceError as exc:
        message = str(exc)
        assert message and "\n" not in message, f"{what}: {message!r}"
        return message
    raise AssertionError(f"{what}: not detected")


def test_the_untouched_package_verifies(package: dict):
    found = verify_package(package["data"], package["trust"])
    assert found.indices == (0, 1, 2) and len(found.cosignatures) == 2


def test_1200_edits_are_all_detected(package: dict):
    rng = random.Random(17)
    original, trust = package["data"], package["trust"]
    decoded = decode_package(original)
    kinds: dict[str, int] = {}
    messages: list[str] = []
    done = 0
    while done < CHEAP:
        try:
            what, data = _byte_edit(original, rng) if rng.random() < 0.45 else _structural_edit(decoded, rng)
        except EvidenceError:
            continue  # a note edit that is not UTF-8 cannot be written as a package at all
        if data == original:
            continue  # an edit that changed nothing (two equal files swapped) is not a tamper
        messages.append(_detected(data, original, trust, what))
        kinds[what] = kinds.get(what, 0) + 1
        done += 1
    deep = 0
    while deep < DEEP:
        what, data = _deep_edit(decoded, rng, package["published"])
        if data == original:
            continue
        message = _detected(data, original, trust, what)
        assert message.startswith(("entry 1 (bundle)", "entry 2 (countersignature)")), f"{what}: {message}"
        deep += 1
    assert done + deep >= 1200 and len(kinds) >= 20, kinds
    for layer in ("not JSON", "base64", "package checkpoint:", "do not hash to the checkpoint's root",
                  "incomplete", "inclusion proof", "SHA-256 is not the one in the log leaf"):
        assert any(layer in m for m in messages), f"no edit was caught by the check {layer!r}"
