"""RFC 6962 / RFC 9162 Merkle tree hashes, inclusion and consistency proofs.

One root commits to many records (e.g. every sample of a run), a short
inclusion proof shows one record is in it, and a consistency proof shows a
later tree extends an earlier one; that is what a transparency log needs. The
leaf/node prefixes (0x00 / 0x01) keep a leaf from being passed off as a node.
Functions take leaf *data* and hash it with ``leaf_hash``; proofs are lists of
32-byte hashes, ordered bottom-up as in RFC 9162.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256

EMPTY_ROOT = _sha256(b"").digest()
"""MTH({}) = SHA-256 of the empty string."""


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH of leaves [lo, hi) given their leaf hashes, level by level.

    Pairing left to right and carrying an unpaired last node up unchanged
    builds exactly the RFC's tree (left subtrees are full powers of two).
    """
    if hi <= lo:
        return EMPTY_ROOT
    level = list(hashes[lo:hi])
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        level = [_sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if odd is not None:
            level.append(odd)
    return level[0]


def _leaf_hashes(leaves: Sequence[bytes]) -> list[bytes]:
    return [_sha256(b"\x00" + d).digest() for d in leaves]


def root(leaves: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash (RFC 6962 §2.1) of the leaf data ``leaves``."""
    hashes = _leaf_hashes(leaves)
    return _mth(hashes, 0, len(hashes))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path PATH(index, D[n]) (RFC 9162 §2.1.3.1), bottom-up."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} is outside a tree of {len(leaves)} leaves")
    hashes = _leaf_hashes(leaves)
    path: list[bytes] = []
    lo, hi, m = 0, len(hashes), index
    while hi - lo > 1:  # descend from the root; collect siblings top-down, reverse at the end
        k = _split(hi - lo)
        if m < k:
            path.append(_mth(hashes, lo + k, hi))
            hi = lo + k
        else:
            path.append(_mth(hashes, lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[n]) (RFC 9162 §2.1.4.1): the tree of ``leaves`` extends its first ``old_size``.

    Empty when ``old_size`` is 0 or ``len(leaves)`` (nothing to prove).
    """
    n = len(leaves)
    if not 0 <= old_size <= n:
        raise ValueError(f"old size {old_size} is outside 0..{n}")
    if old_size in (0, n):
        return []
    hashes = _leaf_hashes(leaves)
    path: list[bytes] = []
    lo, hi, m, complete = 0, n, old_size, True  # SUBPROOF(m, D[lo:hi], complete)
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            path.append(_mth(hashes, lo + k, hi))
            hi = lo + k
        else:
            path.append(_mth(hashes, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        path.append(_mth(hashes, lo, hi))
    path.reverse()
    return path


def _is_hash(h: object) -> bool:
    return isinstance(h, bytes) and len(h) == 32


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """Check that ``leaf`` (data) is leaf ``index`` of the size-``size`` tree with ``root``.

    RFC 9162 §2.1.3.2, step for step.
    """
    if not (isinstance(index, int) and isinstance(size, int) and 0 <= index < size):
        return False
    if not (_is_hash(root) and all(_is_hash(p) for p in proof)):
        return False
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: list[bytes]) -> bool:
    """Check that the size-``new_size`` tree extends the size-``old_size`` one.

    RFC 9162 §2.1.4.2 for 0 < old_size < new_size. Equal sizes need an empty
    proof and equal roots; an empty old tree (its root must be ``EMPTY_ROOT``)
    is extended by every tree, with an empty proof.
    """
    if not (isinstance(old_size, int) and isinstance(new_size, int) and 0 <= old_size <= new_size):
        return False
    if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(p) for p in proof)):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # exact power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
