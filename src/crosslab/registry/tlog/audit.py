"""The start-up check: recompute the whole tree from the stored entries and hold every table to it.

Recomputing from the *entries*, not from the stored leaf hashes, is what
catches a changed entry: the hash table is derived data, and checking it
against itself would bless an entry edited behind the triggers' back. One
pass over the entries, 8,192 at a time, rebuilds every complete subtree
(with a stack of at most log2(n) hashes) and compares it with the stored
hash; the root at every checkpointed size is compared with that checkpoint's
root and note; the latest checkpoint's signature is verified with the log's
key. Row counts catch added or removed rows. Cost: O(n) reads and hashes,
once per start (see docs/registry_log.md for the figure at a million leaves).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, and_, func, or_, select

from crosslab.attest.merkle import EMPTY_ROOT, leaf_hash, node_hash
from crosslab.transparency.checkpoint import Checkpoint
from crosslab.registry.tlog.errors import LogError, NoteError
from crosslab.transparency.note import NoteVerifier
from crosslab.registry.tlog.store import current_size, read_entries
from crosslab.registry.tlog.tables import checkpoints, entries, hashes
from crosslab.registry.tlog.tree import Key, fold, stored_hash_count

CHUNK = 1 << 13

_PREFIX = "transparency log refused to start"


def _fail(detail: str) -> LogError:
    return LogError(f"{_PREFIX}: {detail}")


def check_log(conn: Connection, origin: str, verifier: NoteVerifier) -> int:
    """Check the whole log as stored; return its size, or raise LogError naming the first discrepancy."""
    size = current_size(conn)
    count, top = conn.execute(select(func.count(), func.max(entries.c.idx))).one()
    if count != size or (size and top != size - 1):
        raise _fail(f"the log's size is {size} but its entry table holds {count} rows (highest index {top}): "
                    f"rows were added or removed outside the log")
    stored_count = conn.execute(select(func.count()).select_from(hashes)).scalar_one()
    if stored_count != stored_hash_count(size):
        raise _fail(f"the hash table holds {stored_count} rows where a tree of {size} leaves has "
                    f"{stored_hash_count(size)}: rows were added or removed outside the log")
    _check_latest_signature(conn, origin, verifier, size)
    empty = conn.execute(select(checkpoints.c.root, checkpoints.c.note).where(checkpoints.c.size == 0)).first()
    if empty is not None:
        _compare_checkpoint(origin, 0, EMPTY_ROOT, bytes(empty.root), empty.note)

    stack: list[tuple[int, bytes]] = []  # complete subtrees of the prefix seen so far, largest first
    for first in range(0, size, CHUNK):
        end = min(size, first + CHUNK)
        rows = read_entries(conn, first, end)
        marks = {s: (bytes(r), n) for s, r, n in conn.execute(
            select(checkpoints.c.size, checkpoints.c.root, checkpoints.c.note)
            .where(checkpoints.c.size > first, checkpoints.c.size <= end))}
        made: dict[Key, bytes] = {}
        roots: list[tuple[int, bytes]] = []
        for expected, (idx, entry) in enumerate(rows, start=first):
            if idx != expected:
                raise _fail(f"entry {expected} is missing from the entry table")
            h, level = leaf_hash(entry), 0
            made[(0, idx)] = h
            while stack and stack[-1][0] == level:
                h = node_hash(stack.pop()[1], h)
                level += 1
                made[(level, idx >> level)] = h
            stack.append((level, h))
            if idx + 1 in marks:
                roots.append((idx + 1, fold([s for _, s in stack])))
        if len(rows) != end - first:
            raise _fail(f"entries {first + len(rows)}..{end - 1} are missing from the entry table")
        _compare_hashes(conn, made)  # first: it names the entry or hash that changed
        for at, computed in roots:
            _compare_checkpoint(origin, at, computed, *marks[at])
    return size


def _check_latest_signature(conn: Connection, origin: str, verifier: NoteVerifier, size: int) -> None:
    row = conn.execute(select(checkpoints.c.size, checkpoints.c.root, checkpoints.c.note)
                       .order_by(checkpoints.c.size.desc()).limit(1)).first()
    if row is None:
        return
    if row.size > size:
        raise _fail(f"a checkpoint was signed at size {row.size} but only {size} entries are stored")
    try:
        checkpoint = Checkpoint.parse(row.note, verifier, origin)
    except NoteError as exc:
        raise _fail(f"the latest checkpoint (size {row.size}) does not verify with this log's key "
                    f"{verifier}: {exc}") from None
    if checkpoint.size != row.size or checkpoint.root != bytes(row.root):
        raise _fail(f"the latest checkpoint's note (size {checkpoint.size}) differs from its row (size {row.size})")


def _compare_checkpoint(origin: str, size: int, computed: bytes, root: bytes, note: str) -> None:
    if computed != root:
        raise _fail(f"the tree recomputed from the stored entries has root {computed.hex()} at size {size}, "
                    f"but the checkpoint signed at that size has root {root.hex()}")
    body = Checkpoint(origin, size, computed).body()
    if not note.encode("utf-8").startswith(body + b"\n"):
        raise _fail(f"the note of the checkpoint at size {size} does not state the recomputed root")


def _compare_hashes(conn: Connection, made: dict[Key, bytes]) -> None:
    span: dict[int, list[int]] = defaultdict(list)
    for level, idx in made:
        span[level].append(idx)
    where = or_(*(and_(hashes.c.level == lv, hashes.c.idx >= min(ix), hashes.c.idx <= max(ix))
                  for lv, ix in span.items()))
    stored = {(lv, ix): bytes(h) for lv, ix, h in
              conn.execute(select(hashes.c.level, hashes.c.idx, hashes.c.hash).where(where))}
    for key in sorted(made):
        if stored.get(key) != made[key]:
            level, idx = key
            what = f"entry {idx} does not hash to its stored leaf hash" if level == 0 else \
                f"the stored hash at level {level}, index {idx} differs from the one recomputed from the entries"
            raise _fail(f"{what}: the log's tables were changed outside the log")
