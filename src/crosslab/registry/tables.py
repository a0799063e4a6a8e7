"""The registry's own tables, beside the log's (``tlog/tables.py``): what was submitted, by whom, and its files.

Every row here is written in the same transaction as the submission's log
leaf, so the database never holds a submission the log does not, or the
reverse. Files are stored once by SHA-256 (``blobs``), the restricted
appendix as the encrypted bytes it arrived as.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Integer, LargeBinary, String, Table, Text, UniqueConstraint

from crosslab.registry.db import metadata as METADATA

#: One row per lab, pinned on first sight: later submissions naming the lab must carry the same signing key.
labs = Table(
    "labs", METADATA,
    Column("lab", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("signing_keyid", String(128), nullable=False),
    Column("identity", Text, nullable=False),  # the public identity JSON, as first pinned
    Column("first_seen", Float, nullable=False),
)

protocols = Table(
    "protocols", METADATA,
    Column("protocol_id", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("round", Integer, nullable=False),
    Column("round_date", String(10), nullable=False),
    Column("previous", String(64)),
    Column("participants", Text, nullable=False),  # JSON list of lab ids, in protocol order
    Column("review_window_days", Integer, nullable=False),  # the evaluated lab's time to countersign and reply
    Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
)

submissions = Table(
    "submissions", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("log_index", Integer, nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("protocol_id", String(64), nullable=False, index=True),
    Column("round", Integer, nullable=False),
    Column("lab", String(64), nullable=False, index=True),  # the signer ("" for a protocol: all signed)
    Column("evaluated", String(64), index=True),  # bundles: the evaluated lab
    Column("deployment", String(64)),
    Column("statement_sha256", String(64), index=True),  # bundles and what grows them
    Column("summary", Text, nullable=False),  # JSON: what pages show (verification result, reason, ...)
    Column("entry", LargeBinary, nullable=False),  # the log leaf's bytes
    Column("received_at", Float, nullable=False),
)

blobs = Table(
    "blobs", METADATA,
    Column("sha256", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

files = Table(
    "files", METADATA,
    Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("sha256", String(64), ForeignKey("blobs.sha256"), nullable=False),
    UniqueConstraint("submission_id", "name"),
)

#: Witnesses' cosignatures of the log's checkpoints (registry/cosigning.py): one verified
#: C2SP tlog-cosignature line per (checkpoint size, witness). A witness's largest size here is the
#: old size the registry sends it next.
cosignatures = Table(
    "cosignatures", METADATA,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness", String(1024), primary_key=True),  # the witness's verifier key (name+id+key)
    Column("line", Text, nullable=False),  # the signature line, newline included, as it is appended to the note
    Column("timestamp", BigInteger, nullable=False),  # the witness's time in the cosignature (Unix seconds)
    Column("received_ms", BigInteger, nullable=False),
)
