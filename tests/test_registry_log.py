"""The registry's transparency log, on SQLite and on the real PostgreSQL server.

Proofs are checked three ways: against crosslab.attest.merkle's in-memory
reference, by sigstore-python's Merkle inclusion code (an implementation that
is not ours), and, for consistency, by a verifier written below from the text
of RFC 9162 §2.1.4.2. Checkpoint notes are checked against Go's published
signed-note example byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest
from sigstore._internal.merkle import _chain_border_right, _chain_inner, _decomp_inclusion_proof, _hash_leaf
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from crosslab.attest import merkle
from crosslab.registry import db
from crosslab.registry.tlog import (
    ENTRY_MAX,
    Checkpoint,
    LogError,
    LogKey,
    LogRequestError,
    NoteError,
    NoteVerifier,
    TileNotFound,
    TransparencyLog,
    open_note,
    parse_tile_path,
    sign_note,
    verify_consistency,
    verify_inclusion,
)
from crosslab.transparency.errors import TileFormatError
from crosslab.transparency.tiles import encode_index
from tests.support.independent_tlog import BACKENDS, engine_for, migrated_url, pg_database

ORIGIN = "registry.example/log"
LOG_TABLES = ("tlog_entries", "tlog_hashes", "tlog_batches", "tlog_checkpoints")


@pytest.fixture(scope="module")
def pg_db():
    with pg_database("crosslab_test_tlog") as name:
        yield name


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    pg_name = request.getfixturevalue("pg_db") if request.param == "postgresql" else None
    with engine_for(migrated_url(request.param, tmp_path, pg_name)) as eng:
        yield eng


@pytest.fixture(scope="module")
def key():
    return LogKey.generate(ORIGIN)


def leaves(n: int, tag: str = "leaf") -> list[bytes]:
    return [f"{tag}-{i}".encode() for i in range(n)]


def fill(log: TransparencyLog, data: list[bytes], batch_sizes=(1, 2, 5, 37, 255)) -> None:
    """Append ``data`` in batches of varying sizes, publishing between some of them."""
    i, b = 0, 0
    while i < len(data):
        n = batch_sizes[b % len(batch_sizes)]
        with log.engine.begin() as conn:
            assert log.append_many(conn, data[i:i + n]) == list(range(i, min(i + n, len(data))))
        i, b = i + n, b + 1
        if b % 3 == 0:
            log.publish_checkpoint()
    log.publish_checkpoint()


# -- independent verifiers -------------------------------------------------------------------------

def sigstore_root(entry: bytes, index: int, size: int, proof: list[bytes]) -> bytes:
    """The root sigstore-python's Rekor inclusion code computes from an entry and its proof."""
    inner, border = _decomp_inclusion_proof(index, size)
    assert len(proof) == inner + border, "proof length differs from sigstore's decomposition"
    return _chain_border_right(_chain_inner(_hash_leaf(entry), proof[:inner], index), proof[inner:])


def rfc9162_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes,
                        consistency_path: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2, written from the RFC's numbered steps (for 0 < first < second)."""
    def hash_children(a: bytes, b: bytes) -> bytes:
        return hashlib.sha256(bytes([1]) + a + b).digest()

    if not consistency_path:                          # step 1
        return False
    path = list(consistency_path)
    if first & (first - 1) == 0:                      # step 2: first is an exact power of 2
        path = [first_hash] + path
    fn, sn = first - 1, second - 1                    # step 3
    while fn % 2 == 1:                                # step 4
        fn, sn = fn // 2, sn // 2
    fr = sr = path[0]                                 # step 5
    for c in path[1:]:                                # step 6
        if sn == 0:                                   # 6a
            return False
        if fn % 2 == 1 or fn == sn:                   # 6b
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn // 2, sn // 2
        else:
            sr = hash_children(sr, c)
        fn, sn = fn // 2, sn // 2                     # 6c
    return fr == first_hash and sr == second_hash and sn == 0   # step 7


def test_rfc_verifier_written_here_rejects_what_it_should():
    data = leaves(13)
    proof = merkle.consistency_proof(5, data)
    old, new = merkle.root(data[:5]), merkle.root(data)
    assert rfc9162_consistency(5, 13, old, new, proof)
    assert not rfc9162_consistency(5, 13, old, new, proof[:-1])
    assert not rfc9162_consistency(5, 13, new, old, proof)
    assert not rfc9162_consistency(6, 13, old, new, proof)
    assert not rfc9162_consistency(5, 13, old, new, [proof[0][::-1]] + proof[1:])


# -- database, migration, triggers -----------------------------------------------------------------

def test_migration_creates_the_log_tables_once(engine, tmp_path):
    db.migrate(engine)  # a second run is a no-op
    assert set(LOG_TABLES) <= set(inspect(engine).get_table_names())
    with engine_for(db.default_url(tmp_path / "only_log")) as only_log:
        db.migrate(only_log, "0001_log")  # this revision on its own
        assert set(inspect(only_log).get_table_names()) == {*LOG_TABLES, "alembic_version"}
        with only_log.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0001_log"]


def test_make_engine_refuses_what_it_cannot_use(tmp_path):
    for url in ("mysql://x/y", "sqlite://", "sqlite:///:memory:", "not a url"):
        with pytest.raises(db.DatabaseError):
            db.make_engine(url)
    engine = db.make_engine(db.default_url(tmp_path))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.BUSY_TIMEOUT_MS
    engine.dispose()
    assert (tmp_path / db.DB_FILE).exists()


def test_triggers_refuse_update_and_delete_on_every_log_table(engine, key):
    log = TransparencyLog(engine, key, ORIGIN)
    with engine.begin() as conn:
        log.append_many(conn, leaves(3))
    log.publish_checkpoint()
    statements = {
        "tlog_entries": ("UPDATE tlog_entries SET entry = entry WHERE idx = 1", "DELETE FROM tlog_entries WHERE idx = 2"),
        "tlog_hashes": ("UPDATE tlog_hashes SET hash = hash", "DELETE FROM tlog_hashes WHERE level = 1"),
        "tlog_batches": ("UPDATE tlog_batches SET count = count", "DELETE FROM tlog_batches"),
        "tlog_checkpoints": ("UPDATE tlog_checkpoints SET note = 'x'", "DELETE FROM tlog_checkpoints"),
    }
    if engine.dialect.name == "sqlite":  # REPLACE deletes the old row: refused, as make_engine turns on recursive_triggers
        statements["tlog_entries"] += ("INSERT OR REPLACE INTO tlog_entries (idx, entry) VALUES (0, x'00')",)
    else:  # TRUNCATE skips row triggers; its own trigger refuses it
        statements["tlog_entries"] += ("TRUNCATE tlog_entries",)
        statements["tlog_hashes"] += ("INSERT INTO tlog_hashes VALUES (0, 0, '\\x00') "
                                      "ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash",)
    for table, sqls in statements.items():
        for sql in sqls:
            with pytest.raises(DBAPIError, match="append-only"):
                with engine.begin() as conn:
                    conn.execute(text(sql))
    assert log.check_on_start() == 3
    assert [log.entry(i) for i in range(3)] == leaves(3)


# -- appends ---------------------------------------------------------------------------------------

def test_append_is_part_of_the_callers_transaction(engine, key):
    log = TransparencyLog(engine, key, ORIGIN)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE caller_rows (id INTEGER PRIMARY KEY, leaf BIGINT NOT NULL)"))
    with pytest.raises(RuntimeError, match="refused by the caller"):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO caller_rows VALUES (1, :leaf)"), {"leaf": log.append(conn, b"first")})
            raise RuntimeError("refused by the caller")
    assert log.size() == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM caller_rows")).scalar() == 0
    with db.begin_write(engine) as conn:
        leaf = log.append(conn, b"second")
        conn.execute(text("INSERT INTO caller_rows VALUES (1, :leaf)"), {"leaf": leaf})
    assert leaf == 0 and log.size() == 1 and log.entry(0) == b"second"
    assert log.check_on_start() == 1


def test_append_refuses_bad_entries_and_no_transaction(engine, key):
    log = TransparencyLog(engine, key, ORIGIN)
    with engine.begin() as conn:
        assert log.append_many(conn, []) == []
        assert log.append_many(conn, [b"", b"x" * ENTRY_MAX]) == [0, 1]
        with pytest.raises(LogRequestError, match="at most 65535"):
            log.append(conn, b"x" * (ENTRY_MAX + 1))
        with pytest.raises(LogRequestError, match="not bytes"):
            log.append(conn, "text")  # type: ignore[arg-type]
    with engine.connect() as conn:
        with pytest.raises(LogError, match="open transaction"):
            log.append(conn.execution_options(isolation_level="AUTOCOMMIT"), b"y")
    assert log.size() == 2 and log.entry(0) == b"" and log.check_on_start() == 2


def test_concurrent_appenders_get_distinct_dense_indexes(engine, key):
    log = TransparencyLog(engine, key, ORIGIN)
    got: dict[int, bytes] = {}
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            for i in range(15):
                entry = f"{tag}-{i}".encode()
                with db.begin_write(engine) as conn:
                    index = log.append_many(conn, [entry] * (1 + i % 3))
                for j in index:
                    got[j] = entry
                if i % 5 == 0:
                    log.publish_checkpoint()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(got) == list(range(log.size())) == list(range(3 * 30))
    assert all(log.entry(i) == e for i, e in got.items())
    log.publish_checkpoint()
    assert log.check_on_start() == 90


# -- proofs ----------------------------------------------------------------------------------------

SMALL = {"sqlite": 33, "postgresql": 17}  # every (index, size) and (old, new) pair up to here (PG: a round trip each)
LARGE_SIZES = (63, 64, 65, 127, 128, 129, 255, 256, 257, 300, 511, 512, 513, 600)


def test_roots_and_proofs_agree_with_the_reference_and_independent_verifiers(engine, key):
    log = TransparencyLog(engine, key, ORIGIN)
    data = leaves(600)
    fill(log, data)
    small = SMALL[engine.dialect.name]
    assert log.size() == 600
    roots = {n: merkle.root(data[:n]) for n in {*range(small + 1), *LARGE_SIZES, *(n - 1 for n in LARGE_SIZES)}}
    for n, expected in roots.items():
        assert log.root(n) == expected, n

    pairs = [(i, n) for n in range(1, small + 1) for i in range(n)]
    pairs += [(i, n) for n in LARGE_SIZES for i in {0, 1, n // 2, n - 2, n - 1, 255, 256} if 0 <= i < n]
    for i, n in pairs:
        proof = log.inclusion_proof(i, n)
        assert proof == merkle.inclusion_proof(data[:n], i), (i, n)
        assert sigstore_root(data[i], i, n, proof) == roots[n], (i, n)
        assert verify_inclusion(data[i], i, n, proof, roots[n])

    pairs = [(m, n) for n in range(1, small + 1) for m in range(1, n + 1)]
    pairs += [(m, n) for n in LARGE_SIZES for m in {1, 2, 63, 64, 65, 255, 256, 257, n - 1, n} if 0 < m <= n]
    for m, n in pairs:
        proof = log.consistency_proof(m, n)
        assert proof == merkle.consistency_proof(m, data[:n]), (m, n)
        if m == n:
            assert proof == []
        else:
            assert rfc9162_consistency(m, n, roots[m], roots[n], proof), (m, n)
        assert verify_consistency(m, n, roots[m], roots[n], proof)
    assert log.consistency_proof(0, 600) == [] and log.root(0) == merkle.EMPTY_ROOT


def test_proof_requests_out_of_range_are_refused(engine, key):
    log = TransparencyLog(engine, key, ORIGIN)
    with engine.begin() as conn:
        log.append_many(conn, leaves(5))
    for call in (lambda: log.inclusion_proof(5, 5), lambda: log.inclusion_proof(0, 6), lambda: log.inclusion_proof(0, 0),
                 lambda: log.inclusion_proof(-1, 3), lambda: log.consistency_proof(4, 3),
                 lambda: log.consistency_proof(1, 6), lambda: log.root(6), lambda: log.entry(5),
                 lambda: log.inclusion_proof(True, 3)):
        with pytest.raises(LogRequestError, match="outside"):
            call()


# -- checkpoints and notes -------------------------------------------------------------------------

# golang.org/x/mod/sumdb/note's documented example (note.go, ExampleSign): our keys and notes must match it.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + ("\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6"
                     "KE6RyyBwJnAM=\n").encode()


def test_notes_match_gos_signed_note_example_byte_for_byte():
    go_key = LogKey.from_signer_key(GO_SIGNER)
    assert go_key.verifier_key() == GO_VERIFIER
    assert go_key.signer_key() == GO_SIGNER
    assert go_key.sign_note(GO_TEXT) == GO_NOTE
    assert open_note(GO_NOTE, NoteVerifier.parse(GO_VERIFIER)) == GO_TEXT
    with pytest.raises(NoteError, match="does not verify"):
        open_note(GO_NOTE.replace(b"cryptography", b"cryptographY"), NoteVerifier.parse(GO_VERIFIER))


def test_verifier_key_format_and_strict_parsing(key):
    vkey = key.verifier_key()
    name, hex_id, material = vkey.split("+", 2)
    raw = base64.b64decode(material)
    assert name == ORIGIN and raw[0] == 1 and len(raw) == 33
    assert bytes.fromhex(hex_id) == hashlib.sha256(name.encode() + b"\n\x01" + raw[1:]).digest()[:4]
    assert NoteVerifier.parse(vkey) == key.verifier
    other = LogKey.generate(ORIGIN).verifier_key()
    for bad in (vkey[:-1], vkey.upper(), vkey.replace("+", "-", 1), f"{name}+{hex_id}+{other.split('+', 2)[2]}",
                f"{name}+{hex_id.upper()}+{material}", f"a b+{hex_id}+{material}", "", "x+y"):
        with pytest.raises(NoteError):
            NoteVerifier.parse(bad)


def test_checkpoint_body_and_parse(engine, key):
    log = TransparencyLog(engine, key, ORIGIN)
    with engine.begin() as conn:
        log.append_many(conn, leaves(7))
    note = log.publish_checkpoint()
    root = merkle.root(leaves(7))
    body = f"{ORIGIN}\n7\n{base64.b64encode(root).decode()}\n".encode()
    sig = base64.b64encode(key.key_id + key.private_key.sign(body)).decode()
    assert note == body + f"\n— {ORIGIN} {sig}\n".encode()
    assert Checkpoint.parse(note, key.verifier_key(), ORIGIN) == Checkpoint(ORIGIN, 7, root)
    assert Checkpoint.parse(note.decode(), key.verifier) == Checkpoint(ORIGIN, 7, root)
    # a witness cosignature by a key the client does not know is ignored
    witness = LogKey.generate("witness.example")
    cosigned = note + sign_note(body, "witness.example", witness.private_key)[len(body) + 1:]
    assert Checkpoint.parse(cosigned, key.verifier).size == 7
    with pytest.raises(NoteError, match="not 'other.example/log'"):
        Checkpoint.parse(note, key.verifier, "other.example/log")


def _resign(key: LogKey, body: bytes) -> bytes:
    return key.sign_note(body)


@pytest.mark.parametrize("mutate, message", [
    (lambda k, n, b: n.replace(b"\n7\n", b"\n8\n"), "does not verify"),
    (lambda k, n, b: LogKey.generate(ORIGIN).sign_note(b), "not signed by"),
    (lambda k, n, b: LogKey.generate("someone.else").sign_note(b), "not signed by"),
    (lambda k, n, b: n.replace(b"\n\n", b"\n"), "blank line|malformed signature"),
    (lambda k, n, b: n[:-1], "end with a newline"),
    (lambda k, n, b: n + n[len(b) + 1:], "two signatures"),
    (lambda k, n, b: n.replace(b"\n", b"\r\n"), "control character"),
    (lambda k, n, b: b[:-1] + b"\n", "no blank line"),
    (lambda k, n, b: _resign(k, b + b"extension line\n"), "exactly 3"),
    (lambda k, n, b: _resign(k, b.replace(b"\n7\n", b"\n07\n")), "leading zeros"),
    (lambda k, n, b: _resign(k, b.replace(b"\n7\n", b"\n+7\n")), "leading zeros"),
    (lambda k, n, b: _resign(k, b.replace(b"=\n", b"\n")), "base64"),
    (lambda k, n, b: _resign(k, b"\n" + b.split(b"\n", 1)[1]), "origin line is empty"),
    (lambda k, n, b: _resign(k, b.split(b"\n", 1)[0] + b"\n7\n" + base64.b64encode(b"x" * 31) + b"\n"), "32 bytes"),
    (lambda k, n, b: n.replace(f"— {ORIGIN} ".encode(), f"— {ORIGIN}  ".encode()), "base64"),
    (lambda k, n, b: b"\xff" + n, "UTF-8"),
])
def test_checkpoint_parse_refuses(tmp_path, key, mutate, message):
    body = Checkpoint(ORIGIN, 7, merkle.root(leaves(7))).body()
    note = key.sign_note(body)
    bad = mutate(key, note, body)
    with pytest.raises(NoteError, match=message):
        Checkpoint.parse(bad, key.verifier, ORIGIN)


def test_publish_checkpoint_signs_only_when_the_size_grows(engine, key):
    log = TransparencyLog(engine, key, ORIGIN)
    empty = log.publish_checkpoint()
    assert Checkpoint.parse(empty, key.verifier) == Checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT)
    with engine.begin() as conn:
        log.append_many(conn, leaves(10))
    first = log.publish_checkpoint()
    assert log.publish_checkpoint() == first == log.latest_checkpoint() == log.tile("checkpoint")
    assert TransparencyLog(engine, key, ORIGIN).publish_checkpoint() == first  # another process, same note
    with engine.begin() as conn:
        log.append(conn, b"more")
    assert log.latest_checkpoint() == first  # not until published
    second = log.publish_checkpoint()
    old, new = Checkpoint.parse(first, key.verifier), Checkpoint.parse(second, key.verifier)
    assert (old.size, new.size) == (10, 11)
    assert rfc9162_consistency(10, 11, old.root, new.root, log.consistency_proof(10, 11))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT size FROM tlog_checkpoints ORDER BY size")).scalars().all() == [0, 10, 11]


def test_latest_checkpoint_before_any_publish_is_not_found(engine, key):
    with pytest.raises(TileNotFound):
        TransparencyLog(engine, key, ORIGIN).latest_checkpoint()


# -- keys --------------------------------------------------------------------------------------------

def test_log_key_file_is_private_and_strict(tmp_path):
    key = LogKey.generate("registry.example/log")
    path = key.save(tmp_path / "log.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert LogKey.load(path).verifier_key() == key.verifier_key()
    with pytest.raises(FileExistsError):
        key.save(path)
    os.chmod(path, 0o644)
    with pytest.raises(NoteError, match="too open"):
        LogKey.load(path)
    os.chmod(path, 0o600)
    line = path.read_text()
    for bad in (line.replace("+", "-", 1), line.rstrip("\n"), line + line, line.replace("registry", "Registry")):
        path.chmod(0o600)
        path.write_text(bad)
        with pytest.raises(NoteError):
            LogKey.load(path)
    with pytest.raises(NoteError, match="does not exist"):
        LogKey.load(tmp_path / "missing.key")
    with pytest.raises(NoteError):
        LogKey.generate("has space")


# -- tiles -------------------------------------------------------------------------------------------

def test_tile_paths_parse_only_their_canonical_spelling(engine, key):
    log = TransparencyLog(engine, key, ORIGIN)
    assert encode_index(1234067) == "x001/x234/067" and encode_index(5) == "005" and encode_index(1000) == "x001/000"
    for path in ("tile/0/000", "tile/0/x001/x234/067", "tile/3/x001/000.p/255", "tile/entries/012.p/1",
                 "tile/63/999", "tile/entries/x999/x999/x999/x999/x999/x999/999"):
        assert str(parse_tile_path(path)) == path
    parsed = parse_tile_path("tile/2/x001/x234/067.p/17")
    assert (parsed.level, parsed.index, parsed.width) == (2, 1234067, 17)
    for bad in ("tile/0/5", "tile/0/0005", "tile/0/x000/005", "tile/0/x01/005", "tile/00/000", "tile/64/000",
                "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/016", "tile/0/000.p/", "tile/0/000/",
                "/tile/0/000", "tile/data/000", "tile/-1/000", "tile/0/00x", "tile/0/x001", "tile/0/x001/x002",
                "tile/０/000", "tile/0/٠٠٠", "tile/0/000\n", "tile/entries/000.p/1/", "checkpoint/", "",
                "tile/0/" + "x001/" * 7 + "000"):
        with pytest.raises(TileFormatError, match="malformed"):
            parse_tile_path(bad)
        with pytest.raises(LogRequestError, match="malformed"):  # the log's own reading of a request
            log.tile(bad)


def test_tiles_and_entry_bundles_are_the_tree(engine, key):
    log = TransparencyLog(engine, key, ORIGIN)
    data = leaves(2 * 256 + 100, "t")
    with engine.begin() as conn:
        log.append_many(conn, data[:600])
    with pytest.raises(TileNotFound):
        log.tile("tile/0/000")  # nothing checkpointed yet
    log.publish_checkpoint()
    with engine.begin() as conn:
        log.append_many(conn, data[600:])  # appended, not yet checkpointed
    hashes = [merkle.leaf_hash(d) for d in data]
    assert log.tile("tile/0/000") == b"".join(hashes[:256])
    assert log.tile("tile/0/001") == b"".join(hashes[256:512])
    assert log.tile("tile/0/002.p/88") == b"".join(hashes[512:600])
    assert log.tile("tile/0/002.p/5") == b"".join(hashes[512:517])
    assert log.tile("tile/1/000.p/2") == merkle.root(data[:256]) + merkle.root(data[256:512])
    bundle = log.tile("tile/entries/001")
    decoded, pos = [], 0
    while pos < len(bundle):
        n = int.from_bytes(bundle[pos:pos + 2], "big")
        decoded.append(bundle[pos + 2:pos + 2 + n])
        pos += 2 + n
    assert decoded == data[256:512]
    assert log.tile("tile/entries/002.p/88") == b"".join(len(d).to_bytes(2, "big") + d for d in data[512:600])
    for unavailable in ("tile/0/002", "tile/0/002.p/89", "tile/1/000", "tile/1/000.p/3", "tile/2/000.p/1",
                        "tile/entries/002.p/89", "tile/0/x001/000"):
        with pytest.raises(TileNotFound):
            log.tile(unavailable)
    log.publish_checkpoint()
    assert log.tile("tile/0/002.p/100") == b"".join(hashes[512:612])
    # a client that reads only tiles rebuilds the checkpointed root: level-1 hashes, then the partial level-0 tile
    level1 = log.tile("tile/1/000.p/2")
    partial = log.tile("tile/0/002.p/100")
    level0 = [partial[i:i + 32] for i in range(0, len(partial), 32)]
    assert merkle.node_hash(merkle.node_hash(level1[:32], level1[32:]), merkle._mth(level0, 0, 100)) == \
        Checkpoint.parse(log.latest_checkpoint(), key.verifier).root


# -- start-up check ----------------------------------------------------------------------------------

def _tamper(engine, *sqls: str) -> None:
    """Run statements with the log's triggers out of the way, as a database superuser could."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # superuser: no user triggers
            for sql in sqls:
                conn.execute(text(sql))
        else:
            names = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
            for name, _ in names:
                conn.execute(text(f"DROP TRIGGER {name}"))
            for sql in sqls:
                conn.execute(text(sql))
            for _, sql in names:
                conn.execute(text(sql))


def _blob(engine, b: bytes) -> str:
    return f"'\\x{b.hex()}'" if engine.dialect.name == "postgresql" else f"x'{b.hex()}'"


@pytest.fixture
def checked_log(engine, key):
    log = TransparencyLog(engine, key, ORIGIN)
    fill(log, leaves(40), batch_sizes=(3, 8, 1))
    with engine.begin() as conn:
        log.append_many(conn, [b"after the checkpoint"])
    assert log.check_on_start() == 41
    return log


@pytest.mark.parametrize("tamper, message", [
    (lambda e: ["UPDATE tlog_entries SET entry = " + _blob(e, b"forged") + " WHERE idx = 3"],
     "entry 3 does not hash to its stored leaf hash"),
    (lambda e: ["UPDATE tlog_entries SET entry = " + _blob(e, b"forged") + " WHERE idx = 40"],
     "entry 40 does not hash"),
    (lambda e: ["UPDATE tlog_hashes SET hash = " + _blob(e, bytes(32)) + " WHERE level = 2 AND idx = 1"],
     "level 2, index 1 differs"),
    (lambda e: ["DELETE FROM tlog_entries WHERE idx = 40"], "entry table holds 40 rows"),
    (lambda e: ["DELETE FROM tlog_hashes WHERE level = 0 AND idx = 7"], "hash table holds"),
    (lambda e: ["UPDATE tlog_checkpoints SET root = " + _blob(e, bytes(32)) + " WHERE size = 24"],
     "checkpoint signed at that size has root"),
    (lambda e: ["UPDATE tlog_checkpoints SET size = 41 WHERE size = 40"], "does not verify|differs from its row"),
])
def test_start_up_check_refuses_a_tampered_log(engine, checked_log, tamper, message):
    _tamper(engine, *tamper(engine))
    with pytest.raises(LogError, match=message) as caught:
        checked_log.check_on_start()
    assert "\n" not in str(caught.value) and str(caught.value).startswith("transparency log refused to start")
    for refused in (lambda: checked_log.tile("tile/0/000.p/1"), lambda: checked_log.inclusion_proof(0, 1),
                    checked_log.publish_checkpoint, lambda: checked_log.entry(0)):
        with pytest.raises(LogError, match="refused to start"):
            refused()
    with pytest.raises(LogError):  # a fresh process refuses as well
        TransparencyLog(engine, checked_log.key, ORIGIN).check_on_start()


def test_start_up_check_catches_a_consistently_rewritten_history(engine, checked_log):
    """Entry and every hash above it rewritten to agree: only the signed checkpoint can tell."""
    data = leaves(40) + [b"after the checkpoint"]
    data[0] = b"rewritten"
    rebuilt = {}
    for level in range(7):
        for idx in range(len(data) >> level):
            rebuilt[(level, idx)] = merkle.root(data[idx << level:(idx + 1) << level])
    sqls = ["UPDATE tlog_entries SET entry = " + _blob(engine, data[0]) + " WHERE idx = 0"]
    sqls += [f"UPDATE tlog_hashes SET hash = {_blob(engine, h)} WHERE level = {lv} AND idx = {ix}"
             for (lv, ix), h in rebuilt.items()]
    _tamper(engine, *sqls)
    with pytest.raises(LogError, match="recomputed from the stored entries has root"):
        checked_log.check_on_start()


def test_start_up_check_refuses_another_key_or_origin(engine, checked_log):
    with pytest.raises(LogError, match="does not verify with this log's key"):
        TransparencyLog(engine, LogKey.generate(ORIGIN), ORIGIN).check_on_start()
    with pytest.raises(LogError, match="does not verify"):
        TransparencyLog(engine, checked_log.key, "other.example/log").check_on_start()


def test_start_up_check_passes_an_empty_log(tmp_path, key):
    with engine_for(migrated_url("sqlite", tmp_path, None)) as engine:
        log = TransparencyLog(engine, key, ORIGIN)
        assert log.check_on_start() == 0
        log.publish_checkpoint()
        assert log.check_on_start() == 0


def test_log_origin_is_checked(engine, key):
    with pytest.raises(LogError, match="origin"):
        TransparencyLog(engine, key, "two\nlines")


def test_a_key_written_here_loads_in_a_fresh_log(tmp_path: Path, engine, key):
    path = key.save(tmp_path / "k")
    log = TransparencyLog(engine, LogKey.load(path), ORIGIN)
    with engine.begin() as conn:
        log.append(conn, b"x")
    assert Checkpoint.parse(log.publish_checkpoint(), key.verifier_key()).size == 1
