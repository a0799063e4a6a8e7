"""`round run` off a terminal: plain progress lines, and everything holding transcripts private whatever the umask."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from conftest import run_cli

from tests.support.smoke_round import smoke_round


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> dict:
    world = smoke_round(tmp_path_factory.mktemp("round"))
    out, cache = world["root"] / "round", world["root"] / "cache"
    old = os.umask(0)  # the worst case: every file the child creates would be world-writable by default
    try:
        result = run_cli("round", "run", str(world["protocol"]), "--as", "lab-a", "--out", str(out), "--cache",
                         env={**world["env"], "CROSSLAB_CACHE_DIR": str(cache)})
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    return {**world, "out": out, "cache": cache, "result": result}


LINE = re.compile(r"^lab-a → lab-b/b-prod: (\d+)/12 samples, (\d+) errors, ([\d.]+ samples/s|-), "
                  r"\d+:\d\d:\d\d elapsed$")


def test_progress_off_a_terminal_is_plain_lines(ran: dict):
    lines = [LINE.match(x) for x in ran["result"].stderr.splitlines()]
    assert lines and all(lines), ran["result"].stderr  # nothing but progress lines, no escape codes
    done = [int(m.group(1)) for m in lines]
    assert done == sorted(done) and done[-1] == 12 and len(done) >= 2
    assert lines[-1].group(2) == "0" and lines[-1].group(3).endswith("samples/s")


def test_a_resumed_direction_says_it_is_complete(ran: dict):
    again = run_cli("round", "run", str(ran["protocol"]), "--as", "lab-a", "--out", str(ran["out"]), "--no-cache",
                    env=ran["env"])
    assert again.returncode == 0, again.stderr
    assert [m.group(1) for m in map(LINE.match, again.stderr.splitlines())] == ["12"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("where", ["journal", "cache", "private copy"])
def test_transcripts_are_private_whatever_the_umask(ran: dict, where: str):
    direction = ran["out"] / "lab-a-on-lab-b-b-prod"
    folder = {"journal": direction / "smoke", "cache": ran["cache"], "private copy": direction / "bundle.private"}[where]
    files = [p for p in folder.iterdir()]
    assert files and mode(folder) == 0o700
    assert {p.name: oct(mode(p)) for p in files} == {p.name: oct(0o600) for p in files}


def test_the_published_bundle_stays_readable(ran: dict):
    """Private is for transcripts only: the bundle is meant to be shared."""
    bundle = ran["out"] / "lab-a-on-lab-b-b-prod" / "bundle"
    assert all(mode(p) & 0o044 for p in bundle.iterdir())
