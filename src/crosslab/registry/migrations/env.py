"""Alembic environment for the registry, run in code by ``crosslab.registry.db.migrate``.

``migrate`` hands over an open connection in a transaction (``config.attributes
["connection"]``), so every pending revision runs inside it and commits
together. On PostgreSQL a transaction-scoped advisory lock makes two
registries starting at once migrate one after the other.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from crosslab.registry.db import metadata

MIGRATION_LOCK = 0x63726F73736C6162  # "crosslab" in ASCII, an arbitrary bigint shared by all registries


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run registry migrations with crosslab.registry.db.migrate(url)")
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("registry migrations run online only (crosslab.registry.db.migrate)")
run_migrations_online()
