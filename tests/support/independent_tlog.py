"""Test support for the registry's transparency log: real, throwaway databases on both backends.

PostgreSQL is the real server on 127.0.0.1:5432 (CI starts it), never a mock:
each test module gets a database of its own, created through an autocommit
connection to ``postgres`` and dropped afterwards, and each test a schema of
its own inside it (the connection's search_path), so tests start from an
empty log without paying for a database each. An unreachable server FAILS
the tests with one clear line: a skipped PostgreSQL test would hide exactly
the backend production runs on.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy import Engine

from crosslab.registry import db

PG_HOST = os.environ.get("CROSSLAB_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CROSSLAB_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CROSSLAB_TEST_PG_USER", "postgres")
BACKENDS = ("sqlite", "postgresql")


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                               autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        pytest.fail(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as {PG_USER} ({first}); "
                    f"the registry log tests need the real server", pytrace=False)


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the duration; yields its name."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_url(database: str, schema: str | None = None) -> str:
    url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"
    return url + (f"?options={quote(f'-csearch_path={schema}')}" if schema else "")


def new_pg_schema(database: str) -> str:
    """A fresh, empty schema in ``database``; its name."""
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def migrated_url(backend: str, tmp_path: Path, pg_database_name: str | None) -> str:
    """The URL of a fresh, migrated, empty registry database on ``backend``."""
    if backend == "sqlite":
        url = db.default_url(tmp_path / f"db_{secrets.token_hex(4)}")
    else:
        assert pg_database_name is not None
        url = pg_url(pg_database_name, new_pg_schema(pg_database_name))
    db.migrate(url)
    return url


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = db.make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
