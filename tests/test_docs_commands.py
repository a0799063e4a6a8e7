"""Every `crosslab …` command the documentation shows names a real command and only real options.

The docs are how people learn the CLI, so a renamed option must fail here, not in a reader's terminal.
Commands are read from fenced code blocks (continuation lines joined, comments dropped) and walked
through the CLI's own command tree (click, as typer builds it); nothing is run.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from conftest import REPO

DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "docs").glob("*/*.md")])


def commands(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, argv after `crosslab`) for each crosslab command in the file's fenced code blocks."""
    found, in_block, pending, first = [], False, "", 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if raw.lstrip().startswith("```"):
            in_block, pending = not in_block, ""
            continue
        if not in_block:
            continue
        line = (pending + " " + raw.strip()) if pending else raw.strip()
        first = first if pending else number
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        pending = ""
        line = line[2:] if line.startswith("$ ") else line
        if not line.startswith("crosslab "):
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # an unbalanced quote: read up to the comment
            words = line.split(" #")[0].split()
        found.append((first, words[1:]))
    return found


def _resolve(root: Any, argv: list[str]) -> tuple[Any, list[str], str]:
    """The command ``argv`` names, the rest of argv, and the command path (for messages).

    typer carries its own copy of click, so groups and options are recognised by what they do.
    """
    command, path, rest = root, ["crosslab"], list(argv)
    while hasattr(command, "list_commands") and rest and not rest[0].startswith("-"):
        sub = command.get_command(typer.Context(command), rest[0])
        if sub is None:
            raise LookupError(f"`{' '.join(path)}` has no command {rest[0]!r}")
        command, path, rest = sub, [*path, rest.pop(0)], rest
    return command, rest, " ".join(path)


def _options(command: Any) -> set[str]:
    names = {"--help"}
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option":
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


CASES = [(path, number, argv) for path in DOCS for number, argv in commands(path)]


def test_the_docs_show_many_commands() -> None:
    assert len(CASES) > 60  # the reader below finds them: a broken reader must not pass by finding none


@pytest.mark.parametrize(("path", "number", "argv"), CASES,
                         ids=[f"{p.relative_to(REPO)}:{n}" for p, n, _ in CASES])
def test_a_documented_command_exists_with_its_options(path: Path, number: int, argv: list[str]) -> None:
    from crosslab.cli.app import app

    root = typer.main.get_command(app)
    where = f"{path.relative_to(REPO)}:{number}"
    try:
        command, rest, name = _resolve(root, argv)
    except LookupError as exc:
        pytest.fail(f"{where}: {exc}")
    known = _options(command)
    unknown = [w.split("=")[0] for w in rest if w.startswith("--") and w.split("=")[0] not in known]
    assert not unknown, f"{where}: `{name}` has no option {', '.join(unknown)} (it has {', '.join(sorted(known))})"


def test_the_checker_catches_a_wrong_command_or_option(tmp_path: Path) -> None:
    from crosslab.cli.app import app

    doc = tmp_path / "doc.md"
    doc.write_text("text\n```bash\ncrosslab round run p.yaml --as a \\\n    --no-such-flag  # comment\n"
                   "crosslab teleport now\n```\ncrosslab run --outside-a-block\n")
    [(first, argv), (second, other)] = commands(doc)
    assert (first, argv) == (3, ["round", "run", "p.yaml", "--as", "a", "--no-such-flag"]) and second == 5
    root = typer.main.get_command(app)
    command, rest, name = _resolve(root, argv)
    assert name == "crosslab round run" and "--no-such-flag" not in _options(command) and "--as" in _options(command)
    with pytest.raises(LookupError, match="has no command 'teleport'"):
        _resolve(root, other)
