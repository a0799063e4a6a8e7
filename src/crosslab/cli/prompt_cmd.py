"""`crosslab prompt seal|open`: a confidential system prompt, committed in the protocol, sealed to evaluators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crosslab.cli.common import console, fail
from crosslab.core.errors import CrosslabError

app = typer.Typer(help="Confidential system prompts: commit in the protocol, seal to the evaluators.",
                  no_args_is_help=True)
Keystore = Annotated[Path | None, typer.Option(help="Keystore directory (default: $CROSSLAB_KEYSTORE).")]


@app.command()
def seal(
    lab: Annotated[str, typer.Option("--as", help="Your lab id: the prompt is sealed to you too.")],
    to: Annotated[list[Path], typer.Option("--to", help="An evaluator's LAB.identity.json (repeat for each).")],
    out: Annotated[Path, typer.Option(help="The sealed prompt to hand to the evaluators.")],
    prompt_file: Annotated[Path | None, typer.Argument(help="The system prompt, as a UTF-8 text file.")] = None,
    reseal: Annotated[Path | None, typer.Option(help="Instead of PROMPT_FILE: a prompt you sealed before, to "
                                                "seal again to others (a buyer, a new evaluator) under the "
                                                "same commitment.")] = None,
    keystore: Keystore = None,
) -> None:
    """Commit to a system prompt and seal it to the evaluators; print the line for the protocol.

    Put the printed ``system_prefix_commitment`` in your deployment's target instead of ``system_prefix``.
    The protocol, reports and bundles then show only the commitment; the evaluators pass the sealed file
    to ``crosslab round run --sealed-prompt``.
    """
    from crosslab.core.atomic import write_atomically
    from crosslab.disclosure.sealed_prompt import commit_and_seal, open_sealed, seal as seal_to
    from crosslab.identity.keys import IdentityError, load_identity
    from crosslab.identity.keystore import Keystore as Store, default_keystore_dir

    if (prompt_file is None) == (reseal is None):
        fail("give either PROMPT_FILE (a new commitment) or --reseal SEALED (the same one again), not both")
    if out.exists():
        fail(f"{out} already exists; a new seal makes a new commitment, so choose another --out")
    store = Store(keystore or default_keystore_dir())
    try:
        recipients = [store.public_identity(lab).age_recipient]
        for path in to:
            recipients.append(load_identity(path).age_recipient)
        if reseal is not None:
            opened = open_sealed(_read(reseal), store.age_identity(lab), str(reseal))
            data, commitment = seal_to(opened.disclosure, recipients), opened.commitment
        else:
            assert prompt_file is not None
            made, data = commit_and_seal(_read(prompt_file).decode("utf-8"), recipients)
            commitment = made.commitment
    except UnicodeDecodeError as exc:
        fail(f"{prompt_file}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    except (CrosslabError, IdentityError, OSError) as exc:
        fail(str(exc))
    write_atomically(out, data)
    console.print(f"sealed to {lab} and {len(to)} other{'s' if len(to) != 1 else ''} → {out}", soft_wrap=True,
                  highlight=False)
    console.print("in the protocol, in your deployment's target (instead of system_prefix):", soft_wrap=True)
    typer.echo(f"  system_prefix_commitment: {commitment}")


@app.command("open")
def open_(
    sealed: Annotated[Path, typer.Argument(help="A sealed prompt you were given.")],
    lab: Annotated[str, typer.Option("--as", help="Your lab id: opened with your key.")],
    protocol_path: Annotated[Path | None, typer.Option("--protocol", help="Check it opens a deployment's "
                                                       "commitment in this protocol.")] = None,
    show: Annotated[bool, typer.Option(help="Print the prompt itself.")] = False,
    keystore: Keystore = None,
) -> None:
    """Open a sealed prompt with your key, check its commitment, and say which deployment it is for."""
    from crosslab.disclosure.sealed_prompt import open_sealed
    from crosslab.identity.keystore import Keystore as Store, default_keystore_dir
    from crosslab.protocol.schema import load_protocol
    from crosslab.round.prompts import confidential_deployments

    try:
        opened = open_sealed(_read(sealed), Store(keystore or default_keystore_dir()).age_identity(lab),
                             str(sealed))
        protocol = load_protocol(protocol_path) if protocol_path is not None else None
    except (CrosslabError, OSError) as exc:
        fail(str(exc), code=1)
    console.print(f"{sealed}: opens commitment {opened.commitment}", soft_wrap=True, highlight=False)
    if protocol is not None:
        names = confidential_deployments(protocol).get(opened.commitment)
        if not names:
            fail(f"{sealed}: no deployment in {protocol_path} carries this commitment", code=1)
        console.print(f"the confidential system prompt of {', '.join(names)} in {protocol_path}", soft_wrap=True,
                      highlight=False)
    if show:
        typer.echo(opened.prompt)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise OSError(f"{path} is a directory, not a file") from None
    except FileNotFoundError:
        raise OSError(f"{path} does not exist") from None
