"""`crosslab grade NAME [FILE]`: label JSONL transcripts from any tool with one of our graders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from crosslab.cli.common import fail, jsonl_objects
from crosslab.core.atomic import write_atomically
from crosslab.grading.standalone import STANDALONE


def grade(
    name: Annotated[str, typer.Argument(help=f"Grader: {', '.join(STANDALONE)}.")],
    file: Annotated[Path | None, typer.Argument(help="JSONL input (default or -: standard input).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of standard output.")] = None,
) -> None:
    """Read JSONL objects, add "label" and "evidence" to each, write JSONL.

    Fields each grader needs: refusal {response, prompt?}; jailbreak {prompt, response, behavior?}; leak {response, secret};
    injection {response, marker? | tool_calls?}; abstention {response, question?};
    answer {response, gold, aliases?}.
    """
    if name not in STANDALONE:
        fail(f"unknown grader {name!r} (available: {', '.join(STANDALONE)})")
    spec = STANDALONE[name]
    if file is not None and str(file) != "-":
        try:
            data = file.read_bytes()
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}")
        source = str(file)
    else:  # bytes, so no newline translation: lines are split on "\n" alone, below
        stdin = getattr(sys.stdin, "buffer", None)
        data = stdin.read() if stdin is not None else sys.stdin.read().encode("utf-8")
        source = "<stdin>"
    grade_fn = spec.function()
    lines: list[bytes] = []
    for number, obj in jsonl_objects(data, source):
        missing = [f for f in spec.required if not isinstance(obj.get(f), str)]
        if missing:
            fail(f"{source}:{number}: {name} needs string field(s) {', '.join(missing)}")
        try:
            added = grade_fn(obj)
        except ValueError as exc:
            fail(f"{source}:{number}: {exc}")
        lines.append(orjson.dumps({**obj, **added}))
    payload = b"".join(line + b"\n" for line in lines)
    if out is None:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
    else:
        write_atomically(out, payload)
