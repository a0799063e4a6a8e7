"""`crosslab env serve | connect | status`: tier-2 environments over MCP (docs/tier2.md)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from crosslab.cli.common import console, fail
from crosslab.core.errors import CrosslabError

app = typer.Typer(help="Serve scenarios to labs' internal agents over MCP, or connect an agent to them.",
                  no_args_is_help=True)
Opt = typer.Option


@app.command()
def serve(
    directory: Annotated[Path, typer.Argument(help="The serve directory: the plan, one journal per lab.")],
    suite: Annotated[list[str] | None, Opt("--suite", help="Plan a new directory: serve this suite's items "
                                           "that have a tool environment (repeatable).")] = None,
    scenario: Annotated[list[str] | None, Opt("--scenario", help="Only item ids matching this glob "
                                              "(repeatable), e.g. 'scheming-sandbagging-*'.")] = None,
    lab: Annotated[list[str] | None, Opt("--lab", help="A participating lab (repeatable); each gets its own "
                                         "tokens file.")] = None,
    rollouts: Annotated[int, Opt(min=1, help="Rollouts per item per lab (each with its own seed).")] = 1,
    max_tool_calls: Annotated[int, Opt(min=1, help="A rollout ends after this many tool calls.")] = 30,
    max_seconds: Annotated[float, Opt(min=1.0, help="A rollout ends this many seconds after it opened.")] = 900.0,
    tokens_dir: Annotated[Path | None, Opt(help="Where to write tokens-<lab>.json (default: beside "
                                           "DIRECTORY). They are secrets: hand each to its lab only.")] = None,
    host: Annotated[str, Opt(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, Opt(min=1, max=65535, help="Port for streamable HTTP.")] = 8300,
    stdio: Annotated[bool, Opt("--stdio", help="Serve one rollout over stdin/stdout instead (needs --token).")]
    = False,
    token: Annotated[str | None, Opt(help="With --stdio: the rollout token to serve.", envvar="CROSSLAB_TOKEN")]
    = None,
    plan_only: Annotated[bool, Opt("--plan-only", help="Plan the directory and write tokens, then stop.")]
    = False,
    protocol: Annotated[Path | None, Opt("--protocol", help="Plan a new directory from a signed tier-2 protocol "
                                         "(its labs, scenarios, rollouts and limits; `crosslab tier2 init`).")]
    = None,
) -> None:
    """Serve scenarios over MCP: streamable HTTP at http://HOST:PORT/mcp, or one rollout over stdio."""
    from crosslab.suites.registry import all_environments
    from crosslab.tier2.book import BookError, RolloutBook, plan_book, write_tokens
    from crosslab.tier2.catalog import CatalogError, servable
    from crosslab.tier2.rollout import Limits

    if protocol is not None and (suite or lab or scenario):
        fail("--protocol names the labs and scenarios already: drop --suite, --lab and --scenario")
    if suite or protocol is not None:
        if suite and not lab:
            fail("planning needs at least one --lab NAME")
        try:
            if protocol is not None:
                tokens, rollouts = _plan_from_protocol(directory, protocol)
            else:
                items = servable(suite or [], scenario or ())
                tokens = plan_book(directory, items, list(lab or []), rollouts=rollouts,
                                   limits=Limits(max_tool_calls, max_seconds), source={"suites": list(suite or [])})
        except (CatalogError, BookError, ValueError) as exc:
            fail(str(exc))
        where = tokens_dir or directory.parent
        where.mkdir(parents=True, exist_ok=True)
        url = None if stdio else f"http://{host}:{port}/mcp"
        for name, lab_tokens in tokens.items():
            write_tokens(where / f"tokens-{name}.json", name, url, lab_tokens)
        items_count = len(next(iter(tokens.values()))) // rollouts
        console.print(f"planned {items_count} items × {rollouts} rollouts for {', '.join(tokens)}; tokens in "
                      f"{where}/tokens-<lab>.json (secret: give each lab its own)", soft_wrap=True, highlight=False)
        if plan_only:
            return
    elif scenario or lab:
        fail("--scenario and --lab plan a new directory: give --suite too")
    try:
        book = RolloutBook(directory, all_environments())
    except (BookError, CrosslabError) as exc:
        fail(str(exc))
    from crosslab.tier2.server import EnvironmentServer

    try:
        if stdio:
            if not token:
                fail("--stdio serves one rollout: give --token (or CROSSLAB_TOKEN)")
            if book.slot(token) is None:
                fail("--token opens no rollout of this directory")
            asyncio.run(EnvironmentServer(book, stdio_token=token).serve_stdio())
            return
        import uvicorn

        counts = book.counts()
        console.print(f"serving {directory} at http://{host}:{port}/mcp · "
                      + ", ".join(f"{lab_}: {c['ended']}/{c['planned']} ended" for lab_, c in counts.items()),
                      soft_wrap=True, highlight=False)
        uvicorn.run(EnvironmentServer(book).http_app(host=host), host=host, port=port, log_level="warning")
    finally:
        book.close()


def _plan_from_protocol(directory: Path, path: Path) -> tuple[dict[str, dict[str, str]], int]:
    """Plan DIRECTORY as the signed tier-2 protocol at PATH says (its signatures beside it): (tokens, rollouts)."""
    from crosslab.attest.errors import VerificationError
    from crosslab.protocol.schema import ProtocolError
    from crosslab.protocol.signing import envelope_path, read_envelope
    from crosslab.protocol.tier2 import load_tier2_protocol
    from crosslab.tier2.planning import plan_from_protocol

    try:
        loaded = load_tier2_protocol(path)
        envelope = read_envelope(envelope_path(path))
    except (ProtocolError, VerificationError) as exc:
        fail(str(exc))
    if envelope is None:
        fail(f"{path}: not signed yet ({envelope_path(path)} does not exist); every party signs with "
             "`crosslab protocol sign` first")
    return plan_from_protocol(directory, loaded, envelope), loaded.rollouts


@app.command()
def connect(
    url: Annotated[str, typer.Argument(help="The evaluator's MCP endpoint, e.g. http://127.0.0.1:8300/mcp.")],
    agent: Annotated[str, Opt("--agent", help="The model to drive (a target, e.g. local:smollm2).")],
    tokens: Annotated[Path | None, Opt(help="A tokens-<lab>.json file: run every rollout in it.")] = None,
    token: Annotated[list[str] | None, Opt("--token", help="One rollout token (repeatable).")] = None,
    concurrency: Annotated[int, Opt(min=1, help="Rollouts at a time.")] = 1,
    attach_reasoning: Annotated[bool, Opt("--attach-reasoning", help="Send the model's own text of each turn "
                                          "to the evaluator as a restricted attachment.")] = False,
    max_steps: Annotated[int, Opt(min=1, help="Model turns per rollout before it submits.")] = 10,
    max_tokens: Annotated[int | None, Opt(min=1, help="The agent's output tokens per turn.")] = None,
) -> None:
    """The reference agent loop: drive AGENT through the evaluator's scenarios over MCP."""
    from crosslab.targets.registry import CredentialsError, DeploymentError, create_target, parse_target
    from crosslab.tier2.agent_loop import connect as connect_one

    chosen = list(token or [])
    if tokens is not None:
        try:
            chosen += list(json.loads(tokens.read_text(encoding="utf-8"))["tokens"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            fail(f"{tokens}: not a tokens file ({type(exc).__name__}: {exc})")
    if not chosen:
        fail("give --tokens FILE or --token TOKEN")
    try:
        target = create_target(parse_target(agent, {"max_tokens": max_tokens}))
    except (CredentialsError, DeploymentError) as exc:
        fail(f"--agent: {exc}")

    async def main() -> list[object]:
        gate = asyncio.Semaphore(concurrency)

        async def one(t: str) -> object:
            async with gate:
                try:
                    return await connect_one(url, t, target, max_steps=max_steps, attach_reasoning=attach_reasoning)
                except Exception as exc:  # noqa: BLE001 - one rollout's failure is counted, the rest go on
                    return exc

        try:
            return list(await asyncio.gather(*(one(t) for t in chosen)))
        finally:
            await target.aclose()

    results = asyncio.run(main())
    failed = [r for r in results if isinstance(r, Exception)]
    done = len(results) - len(failed)
    calls = sum(getattr(r, "tool_calls", 0) for r in results)
    console.print(f"{done}/{len(results)} rollouts submitted · {calls} tool calls", highlight=False)
    for exc in failed[:5]:
        leaf = _leaf(exc)
        console.print(f"[red]rollout failed: {type(leaf).__name__}: {leaf}[/]", soft_wrap=True, highlight=False)
    if failed:
        raise typer.Exit(1)


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside anyio's exception groups (what a user needs to read)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
