"""Where the hashes of an RFC 9162 tree are: pure arithmetic on leaf positions, no storage.

The log stores the hash of every *complete* subtree, keyed ``(level, idx)``:
MTH(D[idx·2^level : (idx+1)·2^level]). Every node of the RFC tree of any size
is a run of at most log2(n) complete subtrees, left to right, largest first,
so its hash is a right fold of stored hashes. This module says which
``(level, idx)`` keys a root or a proof needs and folds them; the proof
shapes are RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF), with
ranges ``(lo, hi)`` in place of hashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from crosslab.attest.merkle import EMPTY_ROOT, node_hash

__all__ = [
    "Key",
    "consistency_ranges",
    "extend",
    "fold",
    "inclusion_ranges",
    "keys_for",
    "range_hash",
    "stored_hash_count",
    "subtree_keys",
]

Key = tuple[int, int]
"""(level, idx) of a complete subtree."""


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_keys(lo: int, hi: int) -> list[Key]:
    """The complete subtrees that make up leaves [lo, hi), left to right (largest aligned first)."""
    keys: list[Key] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        while lo & ((1 << level) - 1):
            level -= 1
        keys.append((level, lo >> level))
        lo += 1 << level
    return keys


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of consecutive complete subtrees given left to right, largest first: a right fold."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def range_hash(lo: int, hi: int, stored: Mapping[Key, bytes]) -> bytes:
    """MTH(D[lo:hi]) for a node [lo, hi) of an RFC tree, from stored complete-subtree hashes."""
    return fold([stored[k] for k in subtree_keys(lo, hi)])


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """PATH(index, D[size]) as leaf ranges, bottom-up (RFC 9162 §2.1.3.1)."""
    path: list[tuple[int, int]] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """PROOF(old, D[new]) as leaf ranges, bottom-up (RFC 9162 §2.1.4.1); empty if old is 0 or new."""
    if old in (0, new):
        return []
    path: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, new, old, True  # SUBPROOF(m, D[lo:hi], complete)
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        path.append((lo, hi))
    path.reverse()
    return path


def keys_for(ranges: Iterable[tuple[int, int]]) -> set[Key]:
    """Every stored key the given ranges need."""
    return {key for lo, hi in ranges for key in subtree_keys(lo, hi)}


def extend(size: int, frontier: Sequence[bytes], leaf_hashes: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
    """The complete-subtree hashes that appending ``leaf_hashes`` to a tree of ``size`` leaves creates.

    ``frontier`` holds the hashes of ``subtree_keys(0, size)`` (the right
    border). Leaf i creates its leaf hash and one node per trailing 1-bit of i.
    """
    stack = [(level, h) for (level, _), h in zip(subtree_keys(0, size), frontier, strict=True)]
    created: list[tuple[int, int, bytes]] = []
    i = size
    for h in leaf_hashes:
        level = 0
        created.append((0, i, h))
        while stack and stack[-1][0] == level:
            h = node_hash(stack.pop()[1], h)
            level += 1
            created.append((level, i >> level, h))
        stack.append((level, h))
        i += 1
    return created


def stored_hash_count(size: int) -> int:
    """How many complete subtrees a tree of ``size`` leaves has: 2·size − popcount(size)."""
    return 2 * size - bin(size).count("1")
