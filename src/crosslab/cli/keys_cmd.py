"""`crosslab keys …`: create and share lab identities (signing + encryption keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crosslab.cli.common import err_console, fail
from crosslab.core.errors import CrosslabError

app = typer.Typer(help="Lab identities: Ed25519 signing keys and age encryption keys.", no_args_is_help=True)
Lab = Annotated[str, typer.Argument(help="Lab id: lowercase slug, e.g. acme-ai.")]
KeystoreDir = Annotated[Path | None, typer.Option("--keystore", help="Keystore directory "
                        "(default: $CROSSLAB_KEYSTORE or ~/.config/crosslab/keys).")]
OutDir = Annotated[Path, typer.Option("--out", help="Where to write LAB.identity.json.")]


def _keystore(path: Path | None):  # -> Keystore, imported lazily to keep startup fast
    from crosslab.identity.keystore import Keystore, default_keystore_dir

    return Keystore(path or default_keystore_dir())


def _public(lab: str, keystore: Path | None):  # -> PublicIdentity
    try:
        return _keystore(keystore).public_identity(lab)
    except CrosslabError as exc:  # IdentityError / KeystoreError: bad id, missing lab, unsafe or damaged files
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read keystore: {exc}", code=1)


@app.command()
def new(
    lab: Lab,
    name: Annotated[str, typer.Option("--name", help="Display name, e.g. \"Acme AI\".")],
    keystore: KeystoreDir = None,
    out: OutDir = Path("."),
) -> None:
    """Create LAB's keys in the keystore and write its public LAB.identity.json."""
    from crosslab.identity.keys import identity_filename, write_identity

    store = _keystore(keystore)
    try:
        store.ensure_absent(lab)
        target = out / identity_filename(lab)
    except CrosslabError as exc:
        fail(str(exc))
    if target.exists():
        fail(f"{target} already exists; refusing to overwrite it (move it away or use --out)")
    try:
        identity = store.create(lab, name)
        write_identity(identity, out)
    except CrosslabError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot create keys: {exc}", code=1)
    err_console.print(f"created keys for {lab} in {store.root / lab} (private keys are not passphrase-protected; "
                      f"keep that directory private). Fingerprint: {identity.fingerprint}",
                      highlight=False, soft_wrap=True, markup=False)
    typer.echo(str(target))


@app.command()
def show(
    lab_or_file: Annotated[str, typer.Argument(metavar="LAB|FILE", help="A lab id in your keystore, or a "
                                               "received LAB.identity.json file.")],
    keystore: KeystoreDir = None,
) -> None:
    """Print LAB's public identity (canonical JSON), or a received identity file's fingerprint and key ids."""
    import re

    from crosslab.identity.keys import LAB_ID_PATTERN

    if re.fullmatch(LAB_ID_PATTERN, lab_or_file):  # a lab id has no "/" or ".": anything else is a file
        typer.echo(_public(lab_or_file, keystore).canonical().decode())
        return
    from crosslab.cli.identity_card import identity_card
    from crosslab.identity.keys import load_identity

    try:
        identity = load_identity(Path(lab_or_file))
    except CrosslabError as exc:  # IdentityError: not JSON, a changed fingerprint, a bad key
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read identity file {lab_or_file}: {exc.strerror or exc}")
    typer.echo(identity_card(identity))


@app.command("list")
def list_labs(keystore: KeystoreDir = None) -> None:
    """List the labs in the keystore: lab id, fingerprint, display name."""
    store = _keystore(keystore)
    labs = store.labs()
    if not labs:
        err_console.print(f"no labs in keystore {store.root}", highlight=False, soft_wrap=True)
    damaged = False
    for lab in labs:
        try:
            identity = store.public_identity(lab)
        except (CrosslabError, OSError) as exc:
            err_console.print(f"crosslab: warning: {lab}: {exc}", highlight=False, soft_wrap=True, markup=False)
            damaged = True
            continue
        typer.echo(f"{identity.lab}\t{identity.fingerprint}\t{identity.name}")
    if damaged:
        raise typer.Exit(1)


@app.command()
def export(lab: Lab, out: OutDir = Path("."), keystore: KeystoreDir = None) -> None:
    """Write LAB's public identity file to --out DIR, to send to partner labs."""
    from crosslab.identity.keys import write_identity

    identity = _public(lab, keystore)
    try:
        target = write_identity(identity, out)
    except CrosslabError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write identity file: {exc}", code=1)
    typer.echo(str(target))
