"""Bad input to `verify` and a damaged journal under `round run`: one line naming the problem, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from tests.support.smoke_round import smoke_round


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    return smoke_round(tmp_path_factory.mktemp("errors"))


def one_line_error(result, code: int) -> str:
    """The single stderr line of a refused command (exit ``code``), checked to carry no traceback."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("crosslab: error: "), result.stderr
    return lines[0]


def test_verify_a_protocol_file_given_as_the_bundle(world: dict):
    line = one_line_error(run_cli("verify", str(world["protocol"]), "--keys", str(world["keys"])), 1)
    assert "protocol.yaml: not a bundle directory" in line


def test_verify_with_a_file_where_the_keys_directory_belongs(world: dict):
    identity = world["keys"] / "lab-a.identity.json"
    line = one_line_error(run_cli("verify", str(world["bundle"]), "--keys", str(identity)), 2)
    assert f"--keys {identity}: is a file, not a directory" in line


def test_verify_a_missing_bundle_directory_is_named_as_such(world: dict, tmp_path: Path):
    line = one_line_error(run_cli("verify", str(tmp_path / "nope"), "--keys", str(world["keys"])), 1)
    assert "nope: no such bundle directory" in line and "protocol.json" not in line


def test_verify_with_a_missing_keys_directory(world: dict, tmp_path: Path):
    line = one_line_error(run_cli("verify", str(world["bundle"]), "--keys", str(tmp_path / "gone")), 2)
    assert "gone: no such directory" in line


@pytest.fixture(scope="module")
def finished_round(world: dict) -> Path:
    out = world["root"] / "round"
    result = run_cli("round", "run", str(world["protocol"]), "--as", "lab-a", "--out", str(out), "--no-cache",
                     "--quiet", env=world["env"])
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("damage", ["truncated", "page zeroed"])
def test_round_run_on_a_damaged_journal_says_so_and_keeps_it(world: dict, finished_round: Path, tmp_path: Path,
                                                              damage: str):
    out = tmp_path / "round"
    shutil.copytree(finished_round, out)
    direction = out / "lab-a-on-lab-b-b-prod"
    shutil.rmtree(direction / "bundle")
    shutil.rmtree(direction / "bundle.private")
    journal = direction / "smoke" / "journal.sqlite"
    data = journal.read_bytes()
    # page 6 of 4096 bytes holds samples: zeroing it used to pass open() and fail mid-run with a traceback
    damaged = data[: len(data) // 2] if damage == "truncated" else data[:5 * 4096] + bytes(4096) + data[6 * 4096:]
    journal.write_bytes(damaged)
    result = run_cli("round", "run", str(world["protocol"]), "--as", "lab-a", "--out", str(out), "--no-cache",
                     "--quiet", env=world["env"])
    line = one_line_error(result, 1)
    assert "journal.sqlite is" in line and ("damaged" in line or "not a crosslab journal" in line)
    assert journal.read_bytes() == damaged  # nothing overwritten: the lab decides what to do with it
    assert not (direction / "bundle").exists()
