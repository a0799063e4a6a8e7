"""The registry's database: SQLite by default, PostgreSQL by URL; schema by Alembic migrations.

``make_engine`` gives SQLite what a log that acknowledges submissions needs:
WAL (readers never block the writer), ``synchronous=FULL`` (a committed
transaction survives power loss, not only a killed process), a busy timeout
(a second writer waits instead of failing), foreign keys, and
``recursive_triggers`` (so ``INSERT OR REPLACE`` fires the log's DELETE
triggers and cannot overwrite a row). It also makes pysqlite's transactions
real: the driver's own implicit BEGIN is turned off and SQLAlchemy emits
BEGIN itself, so DDL is transactional and ``begin_write`` can ask for
``BEGIN IMMEDIATE``.

``migrate`` runs the Alembic environment shipped in ``registry/migrations``
with a Config built in code: no alembic.ini on disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from crosslab.core.errors import CrosslabError
from crosslab.registry.tlog.tables import metadata

__all__ = ["DB_FILE", "DatabaseError", "begin_write", "default_url", "make_engine", "metadata", "migrate"]

DB_FILE = "registry.sqlite3"
"""The SQLite file name ``default_url`` puts in the directory it is given."""

BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_BEGIN_OPTION = "crosslab_sqlite_begin"


class DatabaseError(CrosslabError, ValueError):
    """A database URL the registry cannot use."""


def default_url(directory: Path | str) -> str:
    """``sqlite:///<directory>/registry.sqlite3`` (the directory is created if missing)."""
    path = Path(directory).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / DB_FILE}"


def make_engine(url: str) -> Engine:
    """An Engine for ``sqlite:///FILE`` or ``postgresql+psycopg://…``; anything else is refused."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"not a database URL: {url!r} (use sqlite:///FILE or postgresql+psycopg://...)") from None
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        if parsed.database in (None, "", ":memory:"):
            raise DatabaseError("the registry needs a SQLite file, not an in-memory database: sqlite:///FILE")
        engine = create_engine(parsed)
        _configure_sqlite(engine)
        return engine
    if parsed.drivername in ("postgresql+psycopg", "postgresql"):
        return create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True)
    raise DatabaseError(f"unsupported database {parsed.drivername!r}: use sqlite:///FILE or postgresql+psycopg://...")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 (DB-API objects)
        dbapi_connection.isolation_level = None  # pysqlite issues no BEGIN of its own; SQLAlchemy does, below
        cur = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", f"busy_timeout={BUSY_TIMEOUT_MS}",
                       "foreign_keys=ON", "recursive_triggers=ON"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_BEGIN_OPTION) else "BEGIN")


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A transaction meant to write, committed on exit: on SQLite it holds the write lock from its first statement.

    A plain (deferred) SQLite transaction that reads first and writes later
    fails with "database is locked" if another writer committed in between;
    ``BEGIN IMMEDIATE`` waits for the lock up front instead. On PostgreSQL
    this is an ordinary transaction.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(**{_BEGIN_OPTION: True})
        with conn.begin():
            yield conn


def migrate(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one transaction (both or neither of two revisions)."""
    from alembic import command
    from alembic.config import Config

    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with begin_write(engine) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()
