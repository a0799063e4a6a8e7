"""The right border of a Merkle tree: enough to extend it leaf by leaf and compute its RFC 9162 root.

A tree of n leaves is a run of complete subtrees, one per 1-bit of n, largest
first; keeping only their hashes (at most 64) lets the monitor check each new
checkpoint's root against leaves it downloaded itself, without keeping the
leaves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from crosslab.attest.merkle import EMPTY_ROOT, leaf_hash, node_hash

__all__ = ["Frontier"]


@dataclass
class Frontier:
    """The complete-subtree hashes (largest first) of the first ``size`` leaves."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.hashes) != bin(self.size).count("1") or any(len(h) != 32 for h in self.hashes):
            raise ValueError(f"a frontier of {self.size} leaves holds {bin(self.size).count('1')} 32-byte hashes")

    def extend(self, entries: Iterable[bytes]) -> None:
        """Append entries (leaf data), merging equal-height subtrees as a binary counter carries."""
        for entry in entries:
            h = leaf_hash(entry)
            carry = self.size
            while carry & 1:  # each trailing 1-bit of the old size is a subtree the new leaf completes
                h = node_hash(self.hashes.pop(), h)
                carry >>= 1
            self.hashes.append(h)
            self.size += 1

    def root(self) -> bytes:
        """MTH of the leaves so far: the subtrees folded right to left."""
        if not self.hashes:
            return EMPTY_ROOT
        acc = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            acc = node_hash(h, acc)
        return acc

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Frontier:
        return cls(size, [data[i:i + 32] for i in range(0, len(data), 32)])
