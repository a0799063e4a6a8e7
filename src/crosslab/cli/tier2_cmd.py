"""`crosslab tier2 …`: plan, write the protocol, bundle, countersign, verify, report, or run a whole round.

The evaluator's side: ``init`` (a protocol to sign), ``plan`` (rollouts
needed), ``bundle`` (one signed bundle per lab). A lab's side: ``countersign``
(after checking its private report), ``open`` (render that report). Anyone:
``verify`` and ``report`` (the public cross-lab report). ``round`` runs all of
it on one machine. docs/tier2.md has the workflow.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from crosslab.cli.bundle_cmd import Keystore, age_identity_or_exit, open_keystore, pinned_identities
from crosslab.cli.common import console, fail
from crosslab.core.errors import CrosslabError

app = typer.Typer(help="Tier 2: third-party evaluation of labs' internal agents (docs/tier2.md).",
                  no_args_is_help=True)
Opt = typer.Option


@app.command()
def plan(
    rate: Annotated[float, Opt(min=1e-6, max=0.5, help="The rarest behaviour rate to see at least once.")] = 0.01,
    power: Annotated[float, Opt(min=0.5, max=0.9999, help="Probability of seeing it at least once.")] = 0.8,
    serve_dir: Annotated[Path | None, Opt("--serve-dir", help="A planned `crosslab env serve` directory: "
                                          "what its rollouts per lab and family can show.")] = None,
) -> None:
    """Rollouts needed to see a rare behaviour, and, for a planned directory, the bound zero events gives."""
    import orjson

    from crosslab.stats.power import detectable_rate_upper_bound, rollouts_to_observe

    need = rollouts_to_observe(rate, power)
    console.print(f"to see a behaviour of rate {rate:.2%} at least once with probability {power:.0%}: "
                  f"[bold]{need}[/] rollouts per lab (in each family you want a claim about)",
                  soft_wrap=True, highlight=False)
    if serve_dir is None:
        return
    from crosslab.tier2.book import BOOK_FILE

    path = serve_dir / BOOK_FILE
    try:
        book = orjson.loads(path.read_bytes())
        per = Counter((entry["lab"], _family(entry["item_id"])) for entry in book["tokens"].values())
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        fail(f"{path}: not a tier-2 serve plan ({type(exc).__name__}: {exc})")
    table = Table(title=f"{serve_dir}: what each lab's planned rollouts can show")
    for col in ("lab", "family", "rollouts", "0 events: rate ≤ (95 %)", f"enough for {rate:.2%}?"):
        table.add_column(col, justify="left" if col in ("lab", "family") else "right")
    for (lab, family), n in sorted(per.items()):
        table.add_row(lab, family, str(n), f"{detectable_rate_upper_bound(n):.2%}",
                      "yes" if n >= need else f"no ({need - n} more)")
    console.print(table)


def _family(item_id: str) -> str:
    """The family of a scheming item id (scheming-<family>-...), else the id's first part."""
    parts = item_id.split("-")
    return parts[1] if parts[0] == "scheming" and len(parts) > 1 else parts[0]


@app.command()
def init(
    out: Annotated[Path, typer.Argument(help="The protocol YAML to write (identity files are read beside it).")],
    evaluator: Annotated[str, Opt(help="The evaluator's lab id (a third party).")],
    lab: Annotated[list[str], Opt("--lab", help="A participating lab (repeatable).")],
    suite: Annotated[list[str] | None, Opt("--suite", help="Serve this suite's items with a tool environment "
                                           "(repeatable; default: scheming).")] = None,
    scenario: Annotated[list[str] | None, Opt("--scenario", help="Only item ids matching this glob (repeatable).")]
    = None,
    rollouts: Annotated[int, Opt(min=1, max=10_000, help="Rollouts per scenario per lab.")] = 5,
    max_tool_calls: Annotated[int, Opt(min=1, help="A rollout ends after this many tool calls.")] = 30,
    max_seconds: Annotated[float, Opt(min=1.0, help="A rollout ends this many seconds after it opened.")] = 900.0,
) -> None:
    """Write a tier-2 protocol for the parties to edit and sign (`crosslab protocol sign`)."""
    import datetime as dt

    import yaml

    from crosslab.protocol.tier2 import template
    from crosslab.suites.registry import items_digest
    from crosslab.tier2.catalog import CatalogError, servable

    if out.exists():
        fail(f"{out} already exists; choose a new file")
    suites = list(suite or ["scheming"])
    try:
        items = servable(suites, scenario or ())
    except CatalogError as exc:
        fail(str(exc))
    data = template(evaluator, list(lab), suites=suites, select=list(scenario or []), digest=items_digest(items),
                    rollouts=rollouts, limits={"max_tool_calls": max_tool_calls, "max_seconds": max_seconds},
                    date=dt.date.today())
    out.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    console.print(f"wrote {out}: {len(items)} scenarios × {rollouts} rollouts for {', '.join(lab)}; put each "
                  "party's <lab>.identity.json beside it, edit, then each party runs `crosslab protocol sign`",
                  soft_wrap=True, highlight=False)


@app.command("bundle")
def bundle_cmd(
    serve_dir: Annotated[Path, typer.Argument(help="The serve directory, planned with --protocol.")],
    lab: Annotated[str, Opt("--lab", help="The lab this bundle is about.")],
    out: Annotated[Path, Opt("--out", help="The bundle directory to write (must not exist).")],
    evaluator: Annotated[str, Opt("--as", help="Your (the evaluator's) lab id in the keystore.")],
    keystore: Keystore = None,
) -> None:
    """Write LAB's signed bundle, with its private report encrypted to LAB alone."""
    from crosslab.tier2.bundle import write_tier2_bundle

    try:
        key = open_keystore(keystore).signing_key(evaluator)
        write_tier2_bundle(out, serve_dir, lab, key)
    except (CrosslabError, OSError) as exc:
        fail(str(exc), code=1)
    console.print(f"wrote {out}: {lab}'s bundle, signed by {evaluator}; send it to {lab} to countersign",
                  soft_wrap=True, highlight=False)


@app.command()
def countersign(
    bundle: Annotated[Path, typer.Argument(help="Your lab's tier-2 bundle.")],
    lab: Annotated[str, Opt("--as", help="Your lab id (the evaluated lab).")],
    reply: Annotated[str | None, Opt(help="Your right-of-reply statement (public).")] = None,
    keys: Annotated[Path | None, Opt("--keys", help="Directory of identity files you trust (*.identity.json); "
                                     "default: the protocol's own.")] = None,
    keystore: Keystore = None,
) -> None:
    """Check the bundle and your private report in full, then countersign it (optionally with a reply)."""
    from crosslab.tier2.countersign import countersign_tier2

    pinned = pinned_identities(keys) if keys else None
    try:
        store = open_keystore(keystore)
        check = countersign_tier2(bundle, lab, store.signing_key(lab), store.age_identity(lab), pinned=pinned,
                                  reply=reply)
    except (CrosslabError, OSError, ValueError) as exc:
        fail(str(exc), code=1)
    console.print(f"countersigned {bundle} as {lab}" + (" with a reply" if reply else "")
                  + f": {check.rollouts} rollouts checked against your private report", soft_wrap=True,
                  highlight=False)


def _verified(bundle: Path, keys: Path | None, lab: str | None, keystore: Path | None,
              require_countersignature: bool) -> object:
    """verify_tier2_bundle, or a one-line failure naming the bundle (fail closed on any input)."""
    from crosslab.attest.errors import VerificationError
    from crosslab.bundle.installed import installed_definitions
    from crosslab.bundle.reader import printable
    from crosslab.tier2.verify import verify_tier2_bundle

    pinned = pinned_identities(keys) if keys else None
    identity = age_identity_or_exit(lab, keystore)
    try:
        return verify_tier2_bundle(bundle, pinned=pinned, metric_definitions=installed_definitions(),
                                   lab_identity=identity, require_countersignature=require_countersignature)
    except Exception as exc:  # noqa: BLE001 - fail closed, one line, whatever the input did
        message = str(exc) if isinstance(exc, VerificationError) else \
            f"could not be checked ({type(exc).__name__}: {exc})"
        fail(f"verification failed: {printable(str(bundle))}: {printable(message)}", code=1)


@app.command()
def verify(
    bundle: Annotated[Path, typer.Argument(help="A lab's tier-2 bundle directory.")],
    keys: Annotated[Path | None, Opt("--keys", help="Directory of identity files you trust (*.identity.json); "
                                     "default: the protocol's own, as signed.")] = None,
    lab: Annotated[str | None, Opt("--as", help="Your lab id: also decrypt and check your private report.")]
    = None,
    keystore: Keystore = None,
    require_countersignature: Annotated[bool, Opt("--require-countersignature",
                                                  help="Fail unless the lab countersigned.")] = False,
    as_json: Annotated[bool, Opt("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Verify a tier-2 bundle offline; exit 0 only when every check passes."""
    import json

    check = _verified(bundle, keys, lab, keystore, require_countersignature)
    if as_json:
        typer.echo(json.dumps({"verified": True, **check.to_dict()}, indent=2, sort_keys=True))
        return
    console.print(f"[green]verified[/] {bundle}: {check.evaluator} evaluated {check.lab}'s internal agent, "
                  f"{check.rollouts} rollouts of {check.scenarios} scenarios; "
                  + ("countersigned" if check.countersigned else "not countersigned")
                  + (" with a reply" if check.response else "")
                  + ("; private report checked" if check.private_checked else ""), soft_wrap=True, highlight=False)
    for s in check.suite_metrics:
        console.print(f"  {s.line()}", soft_wrap=True, highlight=False)


@app.command()
def report(
    bundles: Annotated[list[Path], typer.Argument(help="One verified bundle per lab, of one protocol.")],
    out: Annotated[Path, Opt("--out", help="Directory for public-report.{html,md,json}.")],
    keys: Annotated[Path | None, Opt("--keys", help="Directory of identity files you trust.")] = None,
    require_countersignature: Annotated[bool, Opt("--require-countersignature",
                                                  help="Fail unless every lab countersigned.")] = False,
) -> None:
    """The public cross-lab report with its redaction summary, from verified bundles only."""
    from crosslab.report.output import LeakError, check_public, write_files
    from crosslab.tier2.reports import public_report, render_report

    checks = [_verified(b, keys, None, None, require_countersignature) for b in bundles]
    try:
        files = render_report(public_report(checks), "public-report")
        check_public(files)
    except (ValueError, LeakError) as exc:
        fail(str(exc), code=1)
    paths = write_files(out, files)
    console.print(f"wrote {', '.join(str(p) for p in paths)}", soft_wrap=True, highlight=False)


@app.command("open")
def open_cmd(
    bundle: Annotated[Path, typer.Argument(help="Your lab's tier-2 bundle.")],
    lab: Annotated[str, Opt("--as", help="Your lab id: its age key decrypts the private report.")],
    out: Annotated[Path, Opt("--out", help="Directory for private-report.{html,md,json} (keep it private).")],
    keys: Annotated[Path | None, Opt("--keys", help="Directory of identity files you trust.")] = None,
    keystore: Keystore = None,
) -> None:
    """Decrypt, check and render your private report: every rollout in full."""
    from crosslab.report.output import write_files
    from crosslab.tier2.reports import private_report, render_report

    check = _verified(bundle, keys, lab, keystore, False)
    write_files(out, render_report(private_report(check), "private-report"), private=True)
    console.print(f"wrote {out}/private-report.{{html,md,json}} (mode 0600: {lab} only)", soft_wrap=True,
                  highlight=False)


@app.command("round")
def round_cmd(
    out: Annotated[Path, typer.Argument(help="A new directory for the whole round.")],
    agent: Annotated[list[str] | None, Opt("--agent", help="LAB=TARGET, a lab and its internal agent "
                                           "(repeatable; default: aurora=local:smollm2, "
                                           "borealis=baseline:schemer?p=0.5&q=0.5).")] = None,
    scenario: Annotated[list[str] | None, Opt("--scenario", help="Item ids matching this glob (repeatable; "
                                              "default: 8 scheming scenarios of 4 families).")] = None,
    rollouts: Annotated[int, Opt(min=1, max=100, help="Rollouts per scenario per lab.")] = 1,
    max_tokens: Annotated[int, Opt(min=8, help="Each agent's output tokens per turn.")] = 96,
    suite: Annotated[list[str] | None, Opt("--suite", help="Serve this suite's items with a tool environment "
                                           "(repeatable; default: scheming).")] = None,
) -> None:
    """A whole tier-2 round on this machine: protocol, MCP serving, agents, bundles, both reports."""
    import time

    from crosslab.tier2.round import run_round

    agents = {}
    for pair in agent or []:
        name, sep, spec = pair.partition("=")
        if not sep or not name or not spec:
            fail(f"--agent {pair!r}: expected LAB=TARGET, e.g. aurora=local:smollm2")
        agents[name] = spec
    started = time.monotonic()
    try:
        result = run_round(out, agents=agents or None, select=scenario if scenario or not suite else [],
                           suites=suite, rollouts=rollouts, max_tokens=max_tokens,
                           say=lambda line: console.print(f"· {line}", soft_wrap=True, highlight=False))
    except CrosslabError as exc:  # RoundError, CatalogError, BookError, ...
        fail(str(exc), code=1)
    for check in result.checks:
        console.print(f"{check.lab}: {check.rollouts} rollouts, verified, countersigned", highlight=False)
    console.print(f"round done in {time.monotonic() - started:.0f} s · public report {result.public['html']} · "
                  f"private reports in {out / 'private'}", soft_wrap=True, highlight=False)
