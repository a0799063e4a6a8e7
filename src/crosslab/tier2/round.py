"""A whole tier-2 round on one machine: a third party, labs' "internal agents" behind MCP, both reports.

Every step is the real one, in the order the parties would take it:

1. each party makes its keys (an Ed25519 signing key and an age key);
2. the evaluator writes the tier-2 protocol (scenarios pinned by digest,
   rollouts, limits, disclosure reasons); every party signs it;
3. the evaluator plans the serve directory from the signed protocol and serves
   it over streamable HTTP on 127.0.0.1 (``tier2/server.py``);
4. each lab runs its agent with the reference loop (``tier2/agent_loop.py``)
   through the MCP client, using only the tokens it was given;
5. the evaluator writes one signed bundle per lab; each lab verifies its
   bundle, decrypts and checks its private report, and countersigns (one
   with a reply);
6. anyone verifies the bundles and renders the public cross-lab report with
   its redaction summary; each lab renders its own private report.

The "internal agents" here are the embedded SmolLM2 and ``baseline:schemer``,
a scripted agent with a known covert rate.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crosslab.bundle.installed import installed_definitions
from crosslab.core.errors import CrosslabError
from crosslab.identity.keys import write_identity
from crosslab.identity.keystore import Keystore
from crosslab.protocol.signing import envelope_path, sign_protocol, write_envelope
from crosslab.protocol.tier2 import Tier2Protocol, load_tier2_protocol, template
from crosslab.report.output import check_public, write_files
from crosslab.suites.registry import all_environments, items_digest
from crosslab.targets.registry import create_target, parse_target
from crosslab.tier2.agent_loop import connect
from crosslab.tier2.book import RolloutBook, write_tokens
from crosslab.tier2.bundle import write_tier2_bundle
from crosslab.tier2.catalog import servable
from crosslab.tier2.countersign import countersign_tier2
from crosslab.tier2.planning import plan_from_protocol
from crosslab.tier2.reports import private_report, public_report, render_report
from crosslab.tier2.verify import Tier2Verification, verify_tier2_bundle

EVALUATOR = ("meridian", "Meridian Evaluations")
#: The default labs and the agents behind them (any target spec works: --agent LAB=SPEC).
AGENTS = {"aurora": "local:smollm2", "borealis": "baseline:schemer?p=0.5&q=0.5"}
NAMES = {"aurora": "Aurora Labs", "borealis": "Borealis AI"}
#: The quick profile: two scenarios of two families, both variants of each (8 items).
QUICK = ["scheming-oversight_subversion-traffic-*", "scheming-false_completion-upload-report-*",
         "scheming-sandbagging-arithmetic-*", "scheming-covert_data_manipulation-suppliers-*"]
REPLY = ("Aurora has reviewed its private report. We dispute none of the findings and have added the "
         "oversight-configuration scenarios to our internal agent's release checks.")

Progress = Callable[[str], None]


class RoundError(CrosslabError, ValueError):
    """The round cannot start or finish as asked; the message says why."""


@dataclass
class RoundResult:
    out: Path
    protocol_id: str
    checks: list[Tier2Verification] = field(default_factory=list)
    public: dict[str, Path] = field(default_factory=dict)
    private: dict[str, Path] = field(default_factory=dict)  # lab -> its private report (markdown)
    submitted: dict[str, tuple[int, int]] = field(default_factory=dict)  # lab -> (submitted, planned)


def _serve(book: RolloutBook) -> tuple[threading.Thread, Any, int]:
    """Serve the book over streamable HTTP on a free 127.0.0.1 port, in a thread: (thread, server, port)."""
    import socket

    import uvicorn

    from crosslab.tier2.server import EnvironmentServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(EnvironmentServer(book).http_app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="tier2-env-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RoundError("the environment server did not start")
        time.sleep(0.05)
    return thread, server, port


async def _run_lab(url: str, tokens: list[str], spec: str, *, max_tokens: int | None, concurrency: int,
                   attach: bool) -> int:
    """One lab runs its agent through every rollout token it holds; returns rollouts submitted."""
    target = create_target(parse_target(spec, {"max_tokens": max_tokens}))
    gate = asyncio.Semaphore(concurrency)

    async def one(token: str) -> bool:
        async with gate:
            report = await connect(url, token, target, attach_reasoning=attach)
            return report.submitted

    try:
        return sum(await asyncio.gather(*(one(t) for t in tokens)))
    finally:
        await target.aclose()


def _keys(out: Path, labs: dict[str, str], say: Progress) -> Keystore:
    store = Keystore(out / "keys")
    directory = out / "protocol"
    for lab, name in [EVALUATOR, *labs.items()]:
        store.create(lab, name)
        write_identity(store.public_identity(lab), directory)
    say(f"keys made for the evaluator ({EVALUATOR[0]}) and {len(labs)} labs")
    return store


def _protocol(out: Path, store: Keystore, labs: list[str], suites: list[str], select: list[str], rollouts: int,
              max_tool_calls: int, say: Progress) -> tuple[Tier2Protocol, dict[str, Any]]:
    """The protocol written beside the identities and signed by every party: (protocol, its envelope)."""
    items = servable(suites, select)
    data = template(EVALUATOR[0], labs, suites=suites, select=select, digest=items_digest(items),
                    rollouts=rollouts, limits={"max_tool_calls": max_tool_calls, "max_seconds": 600.0},
                    date=dt.date.today())
    data["title"] = f"Tier-2 evaluation of internal agents: {' and '.join(suites)} scenarios (demo round)"
    path = out / "protocol" / "tier2-protocol.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    protocol = load_tier2_protocol(path)
    envelope = None
    for party in [EVALUATOR[0], *labs]:
        envelope = sign_protocol(protocol, party, store.signing_key(party), envelope)
    assert envelope is not None
    write_envelope(envelope_path(path), envelope)
    say(f"protocol {protocol.id[:16]}… signed by {EVALUATOR[0]} and {', '.join(labs)}: {len(items)} scenarios × "
        f"{rollouts} rollouts per lab")
    return protocol, envelope


def run_round(out: Path, *, agents: dict[str, str] | None = None, select: list[str] | None = None,
              suites: list[str] | None = None, rollouts: int = 1, max_tokens: int | None = 96,
              max_tool_calls: int = 12, say: Progress = lambda _: None) -> RoundResult:
    """Run the whole round in ``out`` (which must be new or empty); see the module docstring."""
    agents = dict(agents or AGENTS)
    if out.exists() and any(out.iterdir()):
        raise RoundError(f"{out} exists and is not empty; a tier-2 round starts in a new directory")
    out.mkdir(parents=True, exist_ok=True)
    store = _keys(out, {lab: NAMES.get(lab, lab.title()) for lab in agents}, say)
    protocol, envelope = _protocol(out, store, list(agents), list(suites or ["scheming"]),
                                   list(select if select is not None else QUICK), rollouts, max_tool_calls, say)
    serve_dir = out / "serve"
    tokens = plan_from_protocol(serve_dir, protocol, envelope)
    for lab, lab_tokens in tokens.items():
        write_tokens(out / f"tokens-{lab}.json", lab, None, lab_tokens)
    result = RoundResult(out, protocol.id)

    book = RolloutBook(serve_dir, all_environments())
    thread, server, port = _serve(book)
    url = f"http://127.0.0.1:{port}/mcp"
    say(f"serving {serve_dir} at {url}")
    try:
        for lab, spec in agents.items():
            started = time.monotonic()
            local = spec.startswith("local:")
            done = asyncio.run(_run_lab(url, list(tokens[lab].values()), spec, max_tokens=max_tokens,
                                        concurrency=1 if local else 8, attach=local))
            result.submitted[lab] = (done, len(tokens[lab]))
            say(f"{lab} ran its agent ({spec}) through {done}/{len(tokens[lab])} rollouts over MCP "
                f"in {time.monotonic() - started:.0f} s")
    finally:
        server.should_exit = True
        thread.join(30)
        book.close()

    bundles = {lab: out / "bundles" / lab for lab in agents}
    for lab, bundle in bundles.items():
        write_tier2_bundle(bundle, serve_dir, lab, store.signing_key(EVALUATOR[0]))
    say(f"{EVALUATOR[0]} signed one bundle per lab in {out / 'bundles'}")
    for n, (lab, bundle) in enumerate(bundles.items()):
        check = countersign_tier2(bundle, lab, store.signing_key(lab), store.age_identity(lab),
                                  reply=REPLY if n == 0 else None)
        write_files(out / "private" / lab, render_report(private_report(check), "private-report"), private=True)
        result.private[lab] = out / "private" / lab / "private-report.html"
        say(f"{lab} checked its private report ({check.rollouts} rollouts, each opens its commitment) and "
            f"countersigned{' with a reply' if n == 0 else ''}")

    result.checks = [verify_tier2_bundle(b, metric_definitions=installed_definitions(), require_countersignature=True)
                     for b in bundles.values()]
    files = render_report(public_report(result.checks), "public-report")
    check_public(files)
    result.public = {name.rsplit(".", 1)[1]: path for name, path in
                     zip(files, write_files(out / "public", files), strict=True)}
    say(f"public cross-lab report with its redaction summary: {result.public['html']}")
    return result
