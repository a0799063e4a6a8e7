"""`crosslab registry …`: serve the public registry, migrate its database, submit to it, decline a round."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from crosslab.cli.common import console, fail
from crosslab.core.errors import CrosslabError

app = typer.Typer(help="The public registry: results in a transparency log, an API and web pages.",
                  no_args_is_help=True)
Opt = typer.Option
DbOpt = Annotated[str | None, Opt("--db", help="Database URL: sqlite:///PATH (default: registry.sqlite3 in --dir) or "
                                  "postgresql+psycopg://USER@HOST/DB.")]
DirOpt = Annotated[Path | None, Opt("--dir", help="Directory for the SQLite file and the log key "
                                    "(default $XDG_DATA_HOME/crosslab/registry).")]


def _url_and_dir(db: str | None, directory: Path | None) -> tuple[str, Path]:
    from crosslab.registry.service import default_dir, sqlite_url

    where = directory or default_dir()
    if db is None:
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
    if db is not None and db.startswith("postgresql://"):
        db = "postgresql+psycopg://" + db.removeprefix("postgresql://")
    return db or sqlite_url(where), where


@app.command()
def migrate(db: DbOpt = None, directory: DirOpt = None) -> None:
    """Create or upgrade the registry's tables (serve also does this on start)."""
    from crosslab.registry.db import make_engine
    from crosslab.registry.db import migrate as run_migrations

    url, _ = _url_and_dir(db, directory)
    try:
        run_migrations(make_engine(url))
    except Exception as exc:  # noqa: BLE001 - a database the operator named: one line, whatever went wrong
        fail(f"cannot migrate {url}: {type(exc).__name__}: {str(exc).splitlines()[0]}", code=1)
    console.print(f"migrated {url}", soft_wrap=True, highlight=False)


@app.command()
def serve(
    db: DbOpt = None,
    directory: DirOpt = None,
    host: Annotated[str, Opt(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, Opt(min=0, max=65535, help="Port (0: any free port, printed).")] = 8000,
    key: Annotated[Path | None, Opt(help="The log's Ed25519 key file (made on first start; default in --dir).")] = None,
    origin: Annotated[str | None, Opt(help="The log's name in its checkpoints.")] = None,
    keys: Annotated[Path | None, Opt(help="Directory of *.identity.json files: labs pinned by the operator "
                                    "before anyone can claim their names.")] = None,
    max_upload_mib: Annotated[int, Opt(min=1, help="Largest accepted upload.")] = 64,
    submissions_per_minute: Annotated[float, Opt(min=0.1, help="Per-client submission rate.")] = 60.0,
    witness: Annotated[list[str] | None, Opt("--witness", help="A witness to ask for cosignatures, URL=VKEY "
                                             "(repeatable; docs/witness.md).")] = None,
    min_witnesses: Annotated[int, Opt(min=0, help="Serve at /checkpoint the newest checkpoint with this many "
                                      "witness cosignatures (0: the latest, as signed).")] = 0,
) -> None:
    """Serve the registry: API, log tiles and proofs, web pages. Migrates and checks the log first."""
    import uvicorn

    from crosslab.registry.app import create_app
    from crosslab.registry.service import DEFAULT_ORIGIN, open_registry

    url, where = _url_and_dir(db, directory)
    trusted = _trusted(keys) if keys else []
    witnesses = _witnesses(witness or [], min_witnesses)
    try:
        registry = open_registry(url, key or where / "log.key", origin=origin or DEFAULT_ORIGIN, trusted=trusted,
                                 witnesses=witnesses, min_witnesses=min_witnesses)
    except CrosslabError as exc:
        fail(f"registry not started: {exc}", code=1)
    except Exception as exc:  # noqa: BLE001 - a database the operator named: one line, whatever went wrong
        fail(f"registry not started: {url}: {type(exc).__name__}: {str(exc).splitlines()[0]}", code=1)
    app_ = create_app(registry, max_upload=max_upload_mib * 1024 * 1024,
                      submissions_per_minute=submissions_per_minute)
    config = uvicorn.Config(app_, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    console.print(f"registry on {url}, log {registry.log.size()} entries; serving http://{host}:{port}/",
                  soft_wrap=True, highlight=False)
    console.print(f"log verifier key: {registry.log.key.verifier_key()}", soft_wrap=True, highlight=False)
    registry.cosigning.start()  # ask the witnesses for cosignatures, in the background
    _settle_heap()
    server.run()


def _settle_heap() -> None:
    """Move everything loaded so far (libraries, the log's tree in memory) out of the collector's reach.

    It lives as long as the server does; left in place, every full collection walks it again, and
    those pauses, not the proofs, made the slowest 1 % of answers (docs/benchmarks.md).
    """
    import gc

    gc.collect()
    gc.freeze()


def _witnesses(specs: list[str], k: int) -> list[Any]:
    """``--witness URL=VKEY`` options, checked before anything is opened."""
    from crosslab.registry.cosigning import WitnessEndpoint

    out = []
    for spec in specs:
        try:
            out.append(WitnessEndpoint.parse(spec))
        except CrosslabError as exc:
            fail(f"--witness {spec}: {exc}")
    if k > len(out):
        fail(f"--min-witnesses {k} needs at least {k} --witness options; {len(out)} given")
    return out


def _trusted(keys: Path) -> list[Any]:
    from crosslab.identity.keys import load_identity

    found = sorted(keys.glob("*.identity.json")) if keys.is_dir() else []
    if not found:
        fail(f"no identity files (*.identity.json) in {keys}")
    out = []
    for path in found:
        try:
            out.append(load_identity(path))
        except (CrosslabError, OSError) as exc:
            fail(f"{path}: {exc}")
    return out


@app.command()
def submit(
    url: Annotated[str, typer.Argument(help="The registry, e.g. http://127.0.0.1:8000")],
    path: Annotated[Path, typer.Argument(help="A bundle directory, or a protocol YAML file (its "
                                         "PROTOCOL.dsse.json signatures beside it).")],
) -> None:
    """Publish a protocol or a bundle (with its countersignature and reveals, when it has them)."""
    from crosslab.registry.archive import pack_bundle
    from crosslab.registry.submission import protocol_body

    if path.is_dir():
        body, kind, route = pack_bundle(path), "application/gzip", "bundles"
    elif path.is_file():
        from crosslab.protocol.schema import load_protocol
        from crosslab.protocol.signing import envelope_path, read_envelope

        try:
            protocol = load_protocol(path)
            envelope = read_envelope(envelope_path(path))
        except CrosslabError as exc:
            fail(str(exc))
        if envelope is None:
            fail(f"{envelope_path(path)}: no signatures; every participant must `crosslab protocol sign` first")
        body, kind, route = protocol_body(protocol, envelope), "application/json", "protocols"
    else:
        fail(f"{path}: no such bundle directory or protocol file")
    post_to_registry(url, route, body, kind)


@app.command()
def decline(
    url: Annotated[str, typer.Argument(help="The registry, e.g. http://127.0.0.1:8000")],
    protocol_path: Annotated[Path, typer.Argument(help="The protocol YAML your lab declines.")],
    lab: Annotated[str, Opt("--as", help="Your lab id (its key must be in your keystore).")],
    reason: Annotated[str, Opt(help="Why, in a sentence (published).")] = "",
    keystore: Annotated[Path | None, Opt(help="Keystore directory.")] = None,
) -> None:
    """Publish your lab's signed statement that it declines to take part in a protocol's round."""
    from crosslab.identity.keystore import Keystore, default_keystore_dir
    from crosslab.protocol.schema import load_protocol
    from crosslab.registry.submission import declined_body

    try:
        protocol = load_protocol(protocol_path)
        identity = protocol.participant(lab).identity
        store = Keystore(keystore or default_keystore_dir())
        body = declined_body(protocol, lab, reason, store.signing_key(lab), identity.signing_key.keyid)
    except KeyError as exc:
        fail(str(exc.args[0]))
    except (CrosslabError, OSError) as exc:
        fail(str(exc))
    post_to_registry(url, "declined", body, "application/json")


def post_to_registry(url: str, route: str, body: bytes, kind: str) -> None:
    """POST a document to the registry's API and print the receipt; a one-line failure when refused."""
    request = urllib.request.Request(f"{url.rstrip('/')}/api/v1/{route}", data=body, method="POST",
                                     headers={"content-type": kind})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310 - the operator's URL
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read())
            message = detail.get("error") or detail.get("detail") or exc.reason
        except ValueError:
            message = exc.reason
        fail(f"refused by the registry ({exc.code}): {message}", code=1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        fail(f"cannot reach the registry at {url}: {exc}", code=1)
    also = f" (with its protocol at entries {', '.join(map(str, answer['also']))})" if answer.get("also") else ""
    console.print(f"published: {answer['kind']} at log entry {answer['index']}{also}", soft_wrap=True,
                  highlight=False)
    console.print(answer["checkpoint"].rstrip(), soft_wrap=True, highlight=False, markup=False)
