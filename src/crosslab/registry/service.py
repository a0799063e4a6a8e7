"""Opening a registry: database, migrations, the log's key, the start-up check, the operator's pinned labs.

The CLI (``crosslab registry serve``), the demo and the tests all open a
registry here, so each runs the same checks before serving: the schema is
migrated, and the log recomputes its tree from the stored leaves and refuses
to start if that differs from its last signed checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path

from crosslab.identity.keys import PublicIdentity
from crosslab.registry.cosigning import Cosigning, WitnessEndpoint
from crosslab.registry.db import default_url, make_engine, migrate
from crosslab.registry.store import Registry
from crosslab.registry.tlog import LogKey, TransparencyLog

#: The log's name in its checkpoints (C2SP tlog-checkpoint origin line) unless the operator picks another.
DEFAULT_ORIGIN = "crosslab.registry.local/log"


def default_dir() -> Path:
    """Where ``serve`` keeps its SQLite file and log key when given none ($XDG_DATA_HOME/crosslab/registry)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "crosslab" / "registry"


def sqlite_url(directory: Path) -> str:
    return default_url(directory)


def log_key(path: Path, origin: str) -> LogKey:
    """The log's signing key: read from ``path``, or made there (0600) on first start."""
    if path.exists():
        return LogKey.load(path)
    key = LogKey.generate(origin)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key.save(path)
    return key


def open_registry(url: str, key_path: Path, *, origin: str = DEFAULT_ORIGIN,
                  trusted: list[PublicIdentity] = (), witnesses: list[WitnessEndpoint] = (),
                  min_witnesses: int = 0) -> Registry:
    """Migrate, load the key, check the log against its last checkpoint, pin the operator's labs.

    ``registry.cosigning`` collects the witnesses' cosignatures (started by ``serve``) and says
    which checkpoint ``GET /checkpoint`` serves: the newest with ``min_witnesses`` of them.
    """
    engine = make_engine(url)
    migrate(engine)
    log = TransparencyLog(engine, log_key(key_path, origin), origin)
    log.check_on_start()
    log.publish_checkpoint()  # a fresh log serves a signed checkpoint of size 0 from the start
    log.warm()  # proofs from memory from the first request on (tlog/memory.py)
    registry = Registry(engine, log)
    registry.cosigning = Cosigning(engine, log, list(witnesses), min_witnesses)
    if trusted:
        registry.pin(list(trusted))
    return registry
