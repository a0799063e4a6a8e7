"""`crosslab bundle create|countersign` and `crosslab verify`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rich.markup import escape

from crosslab.cli.common import console, fail
from crosslab.core.errors import CrosslabError

app = typer.Typer(help="Signed, redacted result bundles.", no_args_is_help=True)
Keystore = Annotated[Path | None, typer.Option(help="Keystore directory (default: $CROSSLAB_KEYSTORE).")]
KeysDir = Annotated[Path, typer.Option("--keys", help="Directory of identity files you trust (*.identity.json).")]


def pinned_identities(keys: Path) -> dict[str, Any]:
    """The identities in KEYS a verifier trusts, by lab; a one-line error exit on a bad or ambiguous file."""
    from crosslab.identity.keys import load_identity

    if not keys.exists():
        fail(f"--keys {keys}: no such directory (give the directory holding the *.identity.json files you trust)")
    if not keys.is_dir():
        fail(f"--keys {keys}: is a file, not a directory (put the *.identity.json files you trust in a "
             "directory and give that)")
    files = sorted(keys.glob("*.identity.json"))
    if not files:
        fail(f"no identity files (*.identity.json) in {keys}")
    pinned: dict[str, Any] = {}
    source: dict[str, Path] = {}
    for path in files:
        try:
            identity = load_identity(path)
        except (CrosslabError, OSError) as exc:
            fail(f"{path}: {exc}")
        if identity.lab in pinned and pinned[identity.lab] != identity:
            fail(f"{source[identity.lab]} and {path} are two different identities for {identity.lab}: "
                 "trust one of them")
        pinned[identity.lab], source[identity.lab] = identity, path
    return pinned


def open_keystore(keystore: Path | None) -> Any:
    from crosslab.identity.keystore import Keystore as Store
    from crosslab.identity.keystore import default_keystore_dir

    return Store(keystore or default_keystore_dir())


def age_identity_or_exit(lab: str | None, keystore: Path | None) -> Any:
    """LAB's age identity from the keystore (None without a lab); a one-line error exit if unreadable."""
    if not lab:
        return None
    try:
        return open_keystore(keystore).age_identity(lab)
    except (CrosslabError, OSError) as exc:
        fail(f"cannot load {lab}'s age identity: {exc}")


@app.command()
def create(
    runs: Annotated[list[Path], typer.Argument(help="The graded run directories, one per pinned suite.")],
    protocol_path: Annotated[Path, typer.Option("--protocol", help="The signed protocol YAML.")],
    lab: Annotated[str, typer.Option("--as", help="Your lab id (the evaluator).")],
    evaluated: Annotated[str, typer.Option(help="The evaluated lab.")],
    deployment: Annotated[str, typer.Option(help="The evaluated deployment's name in the protocol.")],
    out: Annotated[Path, typer.Option(help="Bundle directory to create (must not exist).")],
    card: Annotated[list[Path] | None, typer.Option("--card", help="A grader card to carry (crosslab judge "
                                                    "validate); repeat it. Every grader the protocol pins needs one.")]
    = None,
    keystore: Keystore = None,
) -> None:
    """Write a signed bundle from graded runs (one per pinned suite) under a fully signed protocol."""
    from crosslab.attest.errors import VerificationError
    from crosslab.bundle.writer import write_bundle
    from crosslab.engine.journal import Journal
    from crosslab.grading.card import read_card
    from crosslab.protocol.rounds import Direction
    from crosslab.protocol.schema import load_protocol
    from crosslab.protocol.signing import envelope_path, read_envelope

    try:
        protocol = load_protocol(protocol_path)
        envelope = read_envelope(envelope_path(protocol_path))
        if envelope is None:
            raise VerificationError(f"the protocol has no signatures ({envelope_path(protocol_path)} missing)")
        cards = [read_card(path) for path in card or []]
        journals = [Journal.open(run) for run in runs]
        key = open_keystore(keystore).signing_key(lab)
        write_bundle(out, journals=journals, protocol=protocol, protocol_envelope=envelope,
                     direction=Direction(lab, evaluated, deployment), signing_key=key, cards=cards)
    except (CrosslabError, OSError, ValueError) as exc:  # ValueError: malformed JSON or values in the run files
        fail(str(exc), code=1 if isinstance(exc, VerificationError) else 2)
    console.print(f"bundle written: {out}", soft_wrap=True, highlight=False)


@app.command("countersign")
def countersign_cmd(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory.")],
    lab: Annotated[str, typer.Option("--as", help="Your lab id (the evaluated lab).")],
    keys: KeysDir,
    response: Annotated[str | None, typer.Option(help="Your right-of-reply statement.")] = None,
    keystore: Keystore = None,
) -> None:
    """Review, then countersign a bundle about your deployment (optionally with a reply)."""
    from crosslab.bundle.countersign import countersign

    pinned = pinned_identities(keys)
    try:
        report = countersign(bundle, lab, open_keystore(keystore).signing_key(lab), pinned, response)
    except (CrosslabError, OSError, ValueError) as exc:  # ValueError: malformed JSON in the bundle's files
        fail(str(exc), code=1)
    console.print(f"countersigned {bundle} as {lab}" + (" with a reply" if response else "")
                  + (" (a self-evaluation: your countersignature adds no independent review)"
                     if report.self_evaluation else ""), soft_wrap=True)


def verify(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory.")],
    keys: KeysDir,
    lab: Annotated[str | None, typer.Option("--as", help="Your lab id, to decrypt and check restricted items.")] = None,
    keystore: Keystore = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON (also on failure).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when a suite's metrics cannot be re-checked "
                                                          "(made with another metrics version).")] = False,
    protocol_id: Annotated[str | None, typer.Option("--protocol-id", help="Fail unless the bundle is under "
                                                    "this protocol (the full id you expect).")] = None,
    round_number: Annotated[int | None, typer.Option("--round", help="Fail unless the bundle is of this round.")]
    = None,
    require_countersignature: Annotated[bool, typer.Option(
        "--require-countersignature", help="Fail unless the evaluated lab countersigned the bundle.")] = False,
) -> None:
    """Verify a bundle offline; exit 0 only when everything matches."""
    import json

    from crosslab.attest.errors import VerificationError
    from crosslab.bundle.reader import printable
    from crosslab.bundle.installed import installed_contents, installed_definitions
    from crosslab.bundle.verify import verify_bundle

    pinned = pinned_identities(keys)
    partner = age_identity_or_exit(lab, keystore)
    try:
        report = verify_bundle(bundle, pinned, partner_identity=partner, metric_definitions=installed_definitions(),
                          pinned_contents=installed_contents,
                               strict=strict, expected_protocol_id=protocol_id, expected_round=round_number,
                               require_countersignature=require_countersignature)
    except Exception as exc:  # noqa: BLE001 - fail closed, one line, whatever the input did
        message = str(exc) if isinstance(exc, VerificationError) else \
            f"{printable(str(bundle))}: could not be checked ({type(exc).__name__}: {exc})"
        if as_json:
            typer.echo(json.dumps({"verified": False, "bundle": str(bundle), "error": message}, sort_keys=True))
            raise typer.Exit(1) from None
        fail(f"verification failed: {printable(message)}", code=1)
    if as_json:
        typer.echo(json.dumps({"verified": True, "bundle": str(bundle), **report.to_dict()}, indent=2,
                              sort_keys=True))
        return
    out = console.print
    who = (f"self-evaluation (allowed by the protocol): {report.evaluator} evaluated its own deployment "
           if report.self_evaluation else f"{report.evaluator} evaluated ")
    out(f"[green]verified[/] {escape(printable(str(bundle)))}: {who}{report.evaluated}/{report.deployment}",
        soft_wrap=True, highlight=False)
    out(f"round {report.round['number']} of {report.round['date']}, protocol {report.protocol_id}", soft_wrap=True,
        highlight=False)
    out(f"bundle format {report.format_version}, written by crosslab {escape(report.crosslab_version)}",
        soft_wrap=True, highlight=False)
    tiers = ", ".join(f"{k} {v}" for k, v in report.by_tier.items())
    out(f"stubs {report.stubs} ({tiers}); public disclosures checked {report.public_verified}; "
        + (f"restricted checked {report.restricted_verified}" if report.restricted_verified is not None
           else "restricted not decrypted (no --as)")
        + f"; withheld {report.withheld}: committed"
        + (f", {report.withheld_revealed} of them revealed later" if report.withheld_revealed else ", not revealed"),
        soft_wrap=True, highlight=False)
    if report.revealed:
        out(f"revealed later: {report.revealed} disclosures checked against the original stubs",
            soft_wrap=True, highlight=False)
    unchecked = [r for r in report.pinned_suites if r not in report.content_checked]
    if report.content_checked:
        out(f"pinned items (ids, tiers, order) checked for {', '.join(report.content_checked)}", soft_wrap=True,
            highlight=False)
    if unchecked:
        out(f"[yellow]pinned items not checked for {', '.join(unchecked)}: not installed here at the pinned "
            "digest", soft_wrap=True, highlight=False)
    if report.attack is not None:
        a = report.attack
        out(f"adaptive attack: {a['successes']}/{a['behaviours']} behaviours at budget, summary recomputed from its "
            "rows; attacker, judge and target are the protocol's"
            + (f"; {report.attack_elicitations_opened} sealed elicitations opened against their rows"
               if report.attack_elicitations_opened is not None else ""), soft_wrap=True, highlight=False)
    for check in report.suite_metrics:
        style = "" if check.status == "rechecked" else "[yellow]"
        out(f"{style}{escape(check.line())}", soft_wrap=True, highlight=False)
    countersigned = "countersigned by " + report.evaluated + (
        " (the evaluator itself: a self-evaluation's countersignature adds no independent review)"
        if report.self_evaluation else "")
    out((countersigned if report.countersigned else "not countersigned")
        + (f"; reply: {escape(printable(report.response))}" if report.response else ""), soft_wrap=True,
        highlight=False)


def reveal(
    bundle: Annotated[Path, typer.Argument(help="A bundle you wrote.")],
    items: Annotated[str, typer.Option("--items", help="Stub indices to reveal, e.g. 3,5,10-12.")],
    lab: Annotated[str | None, typer.Option("--as", help="Your lab id, to decrypt restricted.age if the "
                                                          "private copy is gone.")] = None,
    keystore: Keystore = None,
    publish: Annotated[str | None, typer.Option("--publish", metavar="REGISTRY_URL", help="Also publish the "
                                                "grown bundle to this registry (its reveal is logged).")] = None,
) -> None:
    """Publish chosen restricted/withheld samples later; verify checks them against the original stubs."""
    from crosslab.bundle.reveal import reveal as do_reveal

    indices: list[int] = []
    try:
        for part in items.split(","):
            lo, _, hi = part.strip().partition("-")
            indices.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        fail(f"--items must be indices and ranges like 3,5,10-12, not {items!r}")
    age = age_identity_or_exit(lab, keystore)
    try:
        path = do_reveal(bundle, indices, age)
    except (CrosslabError, OSError, ValueError) as exc:  # ValueError: malformed JSON in the bundle's files
        fail(str(exc))
    console.print(f"revealed {len(set(indices))} sample(s): {path}", soft_wrap=True, highlight=False)
    if publish:
        from crosslab.cli.registry_cmd import post_to_registry
        from crosslab.registry.archive import pack_bundle

        post_to_registry(publish, "bundles", pack_bundle(bundle), "application/gzip")
