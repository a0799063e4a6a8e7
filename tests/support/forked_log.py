"""A real registry log made to misbehave, for the monitor's and the witness's tests.

Two ways a log operator can show different histories, both on the registry's
own code (``open_registry``, ``create_app`` under uvicorn in a subprocess):

* ``fork``: copy the database at size n (SQLite's backup API, or PostgreSQL's
  ``CREATE DATABASE … TEMPLATE``), then ``append`` different entries to each
  copy with the same log key and serve both: two signed, valid, incompatible
  histories.
* ``rewrite_entry``: with the server stopped, drop the append-only triggers,
  change an old leaf, recompute every stored hash, drop the checkpoints that
  covered the old leaf, re-sign the current size with the log key and put the
  triggers back. The registry's start-up check then passes (the operator
  re-signed), so only someone who kept an earlier checkpoint can tell.

Run as ``python -m tests.support.forked_log --db URL --key FILE`` it serves the
log on a free port and prints ``PORT <n>`` (``serving`` does this for you).
"""

from __future__ import annotations

import argparse
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import make_url

from crosslab.attest.merkle import leaf_hash, root
from crosslab.registry.db import begin_write
from crosslab.registry.service import DEFAULT_ORIGIN, open_registry
from crosslab.registry.store import Registry
from crosslab.registry.tlog.tables import checkpoints, entries, hashes
from crosslab.registry.tlog.tree import extend
from crosslab.transparency import Checkpoint, LogKey

LOG_TABLES = ("tlog_entries", "tlog_hashes", "tlog_batches", "tlog_checkpoints")


@dataclass(frozen=True)
class LogCopy:
    """One registry database and the log key that signs its checkpoints."""

    db_url: str
    key_path: Path
    origin: str = DEFAULT_ORIGIN

    def verifier_key(self) -> str:
        return LogKey.load(self.key_path).verifier_key()

    @contextmanager
    def opened(self) -> Iterator[Registry]:
        """The registry as ``crosslab registry serve`` opens it (migrated, start-up check passed)."""
        registry = open_registry(self.db_url, self.key_path, origin=self.origin)
        try:
            yield registry
        finally:
            registry.engine.dispose()


def new_log(db_url: str, key_path: Path, leaves: list[bytes] = ()) -> LogCopy:
    """A registry log at ``db_url`` (its key made at ``key_path`` if missing) holding ``leaves``."""
    log = LogCopy(db_url, key_path)
    append(log, list(leaves))
    return log


def append(log: LogCopy, leaves: list[bytes]) -> bytes:
    """Append ``leaves`` as the registry's store does (one transaction), then publish; the signed checkpoint."""
    with log.opened() as registry:
        if leaves:
            with begin_write(registry.engine) as conn:
                registry.log.append_many(conn, leaves)
        return registry.log.publish_checkpoint()


def fork(log: LogCopy, db_url: str) -> LogCopy:
    """A copy of ``log``'s database at ``db_url``, signed by the same key; nothing may be connected to ``log``."""
    source, target = make_url(log.db_url), make_url(db_url)
    if source.get_backend_name() == "sqlite":
        with sqlite3.connect(source.database) as src, sqlite3.connect(target.database) as dst:
            src.backup(dst)
    else:
        import psycopg

        admin = target.set(database="postgres", drivername="postgresql")
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{target.database}" TEMPLATE "{source.database}"')
    return LogCopy(db_url, log.key_path, log.origin)


def _drop_triggers(conn, dialect: str) -> None:  # noqa: ANN001
    for table in LOG_TABLES:
        if dialect == "postgresql":
            conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
            conn.execute(text(f"DROP TRIGGER {table}_no_truncate ON {table}"))
        else:
            conn.execute(text(f"DROP TRIGGER {table}_no_update"))
            conn.execute(text(f"DROP TRIGGER {table}_no_delete"))


def _restore_triggers(conn, dialect: str) -> None:  # noqa: ANN001
    for table in LOG_TABLES:
        if dialect == "postgresql":
            conn.execute(text(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                              f"FOR EACH ROW EXECUTE FUNCTION tlog_refuse_change()"))
            conn.execute(text(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                              f"FOR EACH STATEMENT EXECUTE FUNCTION tlog_refuse_change()"))
        else:
            for action in ("UPDATE", "DELETE"):
                conn.execute(text(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN "
                                  f"SELECT RAISE(ABORT, '{action} on {table} refused: the transparency log is "
                                  f"append-only'); END"))


def rewrite_entry(log: LogCopy, index: int, new_entry: bytes) -> bytes:
    """Change leaf ``index`` behind the log's back and re-sign the current size; the new signed checkpoint."""
    key = LogKey.load(log.key_path)
    with log.opened() as registry, begin_write(registry.engine) as conn:
        dialect = conn.dialect.name
        _drop_triggers(conn, dialect)
        conn.execute(update(entries).where(entries.c.idx == index).values(entry=new_entry))
        leaves = [bytes(e) for e in conn.execute(select(entries.c.entry).order_by(entries.c.idx)).scalars()]
        conn.execute(delete(hashes))
        conn.execute(insert(hashes), [{"level": lv, "idx": ix, "hash": h}
                                      for lv, ix, h in extend(0, [], [leaf_hash(e) for e in leaves])])
        conn.execute(delete(checkpoints).where(checkpoints.c.size > index))
        note = key.sign_note(Checkpoint(log.origin, len(leaves), root(leaves)).body())
        conn.execute(insert(checkpoints).values(size=len(leaves), root=root(leaves), note=note.decode(),
                                                signed_ms=time.time_ns() // 1_000_000))
        _restore_triggers(conn, dialect)
    return note


def edit_entry_only(log: LogCopy, index: int, new_entry: bytes) -> None:
    """Change leaf ``index`` in place and nothing else (hashes and checkpoints stay): the tiles then serve it.

    The registry's next start-up check would refuse this log; a server that
    keeps running serves the edited leaf under the old signed roots.
    """
    with log.opened() as registry, begin_write(registry.engine) as conn:
        _drop_triggers(conn, conn.dialect.name)
        conn.execute(update(entries).where(entries.c.idx == index).values(entry=new_entry))
        _restore_triggers(conn, conn.dialect.name)


@contextmanager
def serving(log: LogCopy) -> Iterator[str]:
    """Serve ``log`` over HTTP on 127.0.0.1 for the block; its base URL."""
    from tests.support.loopback_server import server_process

    with server_process("tests.support.forked_log", ["--db", log.db_url, "--key", str(log.key_path),
                                                     "--origin", log.origin], 60) as (port, _):
        yield f"http://127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from crosslab.registry.app import create_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--key", required=True, type=Path)
    parser.add_argument("--origin", default=DEFAULT_ORIGIN)
    args = parser.parse_args(argv)
    registry = open_registry(args.db, args.key, origin=args.origin)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections queue from now on, so the port is usable as soon as it is printed
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(registry), log_level="warning", access_log=False))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])
