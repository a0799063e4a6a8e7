"""`crosslab witness …`: make a witness key, and serve C2SP tlog-witness add-checkpoint for the logs it trusts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crosslab.cli.common import console, fail
from crosslab.core.errors import CrosslabError

app = typer.Typer(help="A witness: cosigns a log's checkpoints only if each extends the last one it saw.",
                  no_args_is_help=True)
Opt = typer.Option


@app.command()
def keygen(
    name: Annotated[str, typer.Argument(help="The witness's key name, e.g. witness.example.org/w1.")],
    out: Annotated[Path, Opt("--out", help="The private key file to create (0600; never overwritten).")],
) -> None:
    """Make a witness key (Ed25519, cosignature type 0x04) and print its verifier key for logs to trust."""
    from crosslab.transparency.cosignature import WitnessKey

    try:
        key = WitnessKey.generate(name)
        key.save(out)
    except FileExistsError:
        fail(f"{out}: already exists; a witness key is never overwritten")
    except (CrosslabError, OSError) as exc:
        fail(f"{out}: {exc}")
    typer.echo(key.verifier_key())


@app.command()
def serve(
    key: Annotated[Path, Opt("--key", help="The witness key file (crosslab witness keygen).")],
    log: Annotated[list[str], Opt("--log", help="Verifier key of a log to witness (repeatable); its name is the "
                                  "log's origin.")],
    state: Annotated[Path, Opt("--state", help="SQLite file keeping the latest cosigned checkpoint per log.")],
    host: Annotated[str, Opt(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, Opt(min=1, max=65535, help="Port.")] = 8100,
) -> None:
    """Serve POST /add-checkpoint (C2SP tlog-witness) for the logs given with --log."""
    import uvicorn

    from crosslab.transparency.cosignature import WitnessKey
    from crosslab.transparency.note import NoteVerifier
    from crosslab.witness import Witness, WitnessState
    from crosslab.witness.app import create_app

    try:
        witness_key = WitnessKey.load(key)
    except CrosslabError as exc:
        fail(f"--key: {exc}")
    verifiers = []
    for vkey in log:
        try:
            verifiers.append(NoteVerifier.parse(vkey))
        except CrosslabError as exc:
            fail(f"--log {vkey}: {exc}")
    try:
        witness = Witness(witness_key, verifiers, WitnessState(state))
    except CrosslabError as exc:
        fail(f"witness not started: {exc}", code=1)
    server = uvicorn.Server(uvicorn.Config(create_app(witness), host=host, port=port, log_level="warning",
                                           access_log=False))
    console.print(f"witness {witness_key.name} serving http://{host}:{port}/ for {len(verifiers)} log(s); "
                  f"state {state}", soft_wrap=True, highlight=False)
    console.print(f"witness verifier key: {witness_key.verifier_key()}", soft_wrap=True, highlight=False)
    server.run()
