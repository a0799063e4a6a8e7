"""`crosslab protocol …`: the protocol id, signing, and verification."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crosslab.cli.common import console, fail
from crosslab.core.errors import CrosslabError

app = typer.Typer(help="The agreed methodology: id, signatures, pinned suites.", no_args_is_help=True)
ProtocolFile = Annotated[Path, typer.Argument(help="Protocol YAML file.")]


def _load(path: Path):  # noqa: ANN202 - returns Protocol or Tier2Protocol; imported lazily
    """Either kind of protocol, by its ``format`` field: both are signed and verified the same way."""
    from crosslab.protocol.schema import ProtocolError, load_protocol
    from crosslab.protocol.tier2 import is_tier2, load_tier2_protocol

    try:
        return load_tier2_protocol(path) if is_tier2(path) else load_protocol(path)
    except ProtocolError as exc:
        fail(str(exc))


@app.command("id")
def protocol_id(path: ProtocolFile) -> None:
    """Print the protocol id (SHA-256 of its RFC 8785 canonical JSON)."""
    typer.echo(_load(path).id)


@app.command()
def sign(
    path: ProtocolFile,
    lab: Annotated[str, typer.Option("--as", help="Your lab id (its key must be in your keystore).")],
    keystore: Annotated[Path | None, typer.Option(help="Keystore directory.")] = None,
) -> None:
    """Add your lab's signature to PROTOCOL.dsse.json (created on first signature)."""
    from crosslab.attest.errors import VerificationError
    from crosslab.identity.keystore import Keystore, default_keystore_dir
    from crosslab.protocol.signing import (
        envelope_path,
        read_envelope,
        sign_protocol,
        signature_status,
        write_envelope,
    )

    protocol = _load(path)
    try:
        protocol.participant(lab)
    except KeyError as exc:
        fail(str(exc.args[0]))
    problems = _tier2_pin_problems(protocol) if hasattr(protocol, "scenarios") else _round_problems(protocol)
    if problems:
        fail(f"refusing to sign: {'; '.join(problems)} (nothing was signed; fix the protocol, then sign)")
    try:
        key = Keystore(keystore or default_keystore_dir()).signing_key(lab)
    except (CrosslabError, OSError) as exc:
        fail(f"cannot load {lab}'s signing key: {exc}")
    target = envelope_path(path)
    try:
        envelope = sign_protocol(protocol, lab, key, read_envelope(target))
        signed, missing = signature_status(protocol, envelope)
    except VerificationError as exc:
        fail(str(exc), code=1)
    write_envelope(target, envelope)
    console.print(f"signed protocol {protocol.id} as {lab} → {target}", soft_wrap=True, highlight=False)
    console.print(f"signed by: {', '.join(signed)}" + (f"; still missing: {', '.join(missing)}" if missing else
                                                         "; fully signed"), soft_wrap=True)


@app.command()
def verify(path: ProtocolFile) -> None:
    """Exit 0 only if every participant signed this exact protocol and its suite pins match."""
    from crosslab.attest.errors import VerificationError
    from crosslab.suites.pins import pin_mismatches
    from crosslab.protocol.signing import envelope_path, read_envelope, verify_protocol

    protocol = _load(path)
    target = envelope_path(path)
    try:
        envelope = read_envelope(target)
        if envelope is None:
            raise VerificationError(f"no signatures: {target} does not exist")
        labs = verify_protocol(protocol, envelope)
    except VerificationError as exc:
        fail(str(exc), code=1)
    problems = _tier2_pin_problems(protocol) if hasattr(protocol, "scenarios") else pin_mismatches(protocol)
    if problems:
        fail("; ".join(problems), code=1)
    console.print(f"protocol {protocol.id}: signed by {', '.join(labs)}; all suite pins match", soft_wrap=True,
                  highlight=False)


def _tier2_pin_problems(protocol) -> list[str]:  # noqa: ANN001 - a Tier2Protocol
    """A tier-2 protocol pins its served scenarios by digest: do the installed ones match?"""
    from crosslab.tier2.book import BookError
    from crosslab.tier2.catalog import CatalogError
    from crosslab.tier2.planning import pinned_items

    try:
        pinned_items(protocol)
    except (BookError, CatalogError) as exc:
        return [str(exc)]
    return []


def _round_problems(protocol) -> list[str]:  # noqa: ANN001 - a Protocol
    from crosslab.round.share import signing_problems

    return signing_problems(protocol)
