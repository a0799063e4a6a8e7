"""Fresh databases for registry tests: a SQLite file, or a new database on the machine's real PostgreSQL.

Each PostgreSQL database is created for one test module (or test) and
dropped with ``FORCE`` afterwards, so tests never see each other's rows and a
crashed server connection cannot keep one alive.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database's SQLAlchemy URL; the test fails plainly if the server is not up."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc}); CI starts it before the tests")
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def registry_database(kind: str, directory: Path, prefix: str) -> Iterator[str]:
    """``kind`` "sqlite" (a file in ``directory``) or "postgresql" (a fresh database): its URL."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'registry.sqlite3'}"
        return
    with postgres_database(prefix) as url:
        yield url
