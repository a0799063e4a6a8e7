"""The committed tree held in memory (registry/tlog/memory.py) answers exactly as the database does."""

from __future__ import annotations

from pathlib import Path

from crosslab.attest.merkle import leaf_hash, root, verify_inclusion
from crosslab.registry.db import begin_write, make_engine, migrate
from crosslab.registry.tlog import LogKey, TransparencyLog
from crosslab.registry.tlog.memory import TreeMemory
from crosslab.registry.tlog.store import fetch_hashes
from crosslab.registry.tlog.tree import subtree_keys

ORIGIN = "memory.test/log"


def _log(tmp_path: Path, entries: list[bytes]) -> TransparencyLog:
    engine = make_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    migrate(engine)
    log = TransparencyLog(engine, LogKey.generate(ORIGIN), ORIGIN)
    with begin_write(engine) as conn:
        log.append_many(conn, entries)
    log.publish_checkpoint()
    return log


def test_held_hashes_are_the_stored_ones_and_grow_with_the_tree(tmp_path: Path):
    entries = [f"entry {i}".encode() for i in range(600)]
    log = _log(tmp_path, entries[:300])
    memory = TreeMemory(max_tiles=2)
    with log.engine.connect() as conn:
        memory.extend(conn, 300)
        stored = fetch_hashes(conn, list(memory))
    assert len(memory) == 2 * 300 - bin(300).count("1") and stored == dict(memory.items())
    with begin_write(log.engine) as conn:
        log.append_many(conn, entries[300:])
    with log.engine.connect() as conn:
        memory.extend(conn, 600)
        assert memory[(0, 599)] == leaf_hash(entries[599])
        border = subtree_keys(0, 600)
        assert {k: memory[k] for k in border} == fetch_hashes(conn, border)
        assert memory.hold_entries(conn) == 2  # the newest two tiles of three: 256..511 and the partial 512..599
    assert memory.held_entry(0) is None and memory.held_entry(599) == entries[599]
    assert memory.entry(log.engine, 7) == entries[7]  # read with its tile, which is then held
    assert memory.held_entry(255) == entries[255] and memory.held_entry(300) is None  # the longest-held tile let go
    assert memory.held_entry(599) == entries[599]


def test_proofs_from_memory_verify_before_and_after_the_tree_grows(tmp_path: Path):
    entries = [f"leaf {i}".encode() for i in range(1000)]
    log = _log(tmp_path, entries[:777])
    assert log.warm() == 777
    for index in (0, 500, 767, 776):  # 768..776 is the partial last tile, held since warm()
        size, proof, got_root, entry = log.held_inclusion(index, 777)
        assert entry == entries[index] and got_root == root(entries[:777])
        assert verify_inclusion(entry, index, size, proof, got_root)
    assert log.held_inclusion(776, 778) is None  # not committed yet: the slow path decides
    with begin_write(log.engine) as conn:
        log.append_many(conn, entries[777:])
    log.publish_checkpoint()
    size, proof, got_root, entry = log.inclusion(999, 1000)
    assert verify_inclusion(entry, 999, size, proof, got_root) and got_root == root(entries)
    assert log.consistency_proof(777, 1000) and log.root(777) == root(entries[:777])
    assert log.held_inclusion(5, 4) is None and log.held_inclusion(-1, 10) is None
