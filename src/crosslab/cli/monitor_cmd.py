"""`crosslab monitor`: follow a log, keep every checkpoint it signed, and report a split view.

Exit status: 0 nothing wrong found, 1 the log could not be judged (down, or
answered garbage: never a split-view claim), 2 bad arguments or an unusable
state file, 3 a split view (both signed notes are kept in the state file).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from crosslab.cli.common import fail

Opt = typer.Option
SPLIT_VIEW_EXIT = 3


def monitor(
    log: Annotated[str, Opt("--log", help="The log's base URL (the registry), e.g. https://registry.example")],
    log_key: Annotated[str, Opt("--log-key", help="The log's verifier key, <name>+<key id>+<base64 key> "
                                "(printed by `crosslab registry serve`).")],
    state: Annotated[Path, Opt("--state", help="SQLite file of the checkpoints seen and split views found "
                               "(made on first use; one per log).")],
    witness_key: Annotated[list[str] | None, Opt("--witness-key", help="A trusted witness's verifier key "
                                                 "(repeatable).")] = None,
    min_witnesses: Annotated[int | None, Opt("--min-witnesses", min=0, help="Cosignatures by trusted "
                                             "witnesses each checkpoint needs (default 1 with --witness-key, "
                                             "else 0).")] = None,
    once: Annotated[bool, Opt("--once", help="Look once and exit (the default without --interval).")] = False,
    interval: Annotated[float | None, Opt("--interval", min=0.05, help="Keep watching, looking every SECONDS; "
                                          "exits only on a split view.")] = None,
    entries: Annotated[bool, Opt("--entries", help="Also download the log's leaves (tlog-tiles entry bundles) "
                                 "and recompute each root.")] = False,
    timeout: Annotated[float, Opt("--timeout", min=0.1, help="Seconds to wait for each answer.")] = 10.0,
) -> None:
    """Follow a transparency log and report a split view: two roots for one size, or a checkpoint inconsistent with an earlier one."""
    from crosslab.monitor import LogAnswerError, LogClient, LogUnreachable, Monitor, MonitorError, MonitorState
    from crosslab.transparency import NoteError, NoteVerifier
    from crosslab.transparency.cosignature import CosignerVerifier

    if once and interval is not None:
        fail("--once and --interval exclude each other: look once, or keep watching")
    witnesses_given = witness_key or []
    try:
        verifier = NoteVerifier.parse(log_key)
    except NoteError as exc:
        fail(f"--log-key: {exc}")
    witnesses = []
    for i, key in enumerate(witnesses_given, start=1):
        try:
            witnesses.append(CosignerVerifier.parse(key))
        except NoteError as exc:
            fail(f"--witness-key #{i}: {exc}")
    needed = min_witnesses if min_witnesses is not None else (1 if witnesses else 0)
    if needed > len(witnesses):
        fail(f"--min-witnesses {needed} is more than the {len(witnesses)} --witness-key given")
    try:
        client = LogClient(log, timeout=timeout)
    except LogUnreachable as exc:
        fail(f"--log: {exc}")
    try:
        kept = MonitorState(state, str(verifier))
    except MonitorError as exc:
        fail(str(exc))
    watcher = Monitor(client, kept, verifier, witnesses, needed, entries=entries)
    try:
        while True:
            try:
                observation = watcher.poll()
            except (LogUnreachable, LogAnswerError) as exc:
                if interval is None:
                    fail(f"cannot check the log (no split view claimed): {exc}", code=1)
                typer.echo(f"crosslab: cannot check the log (no split view claimed): {exc}", err=True)
            except MonitorError as exc:
                fail(str(exc), code=1)
            else:
                if observation.split is not None:
                    typer.echo(f"crosslab: {observation.split.line()}; both signed notes are kept in {state}",
                               err=True)
                    raise typer.Exit(SPLIT_VIEW_EXIT)
                if observation.new or interval is None:
                    typer.echo(observation.line)
            if interval is None:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        kept.close()
