"""`crosslab suites` prints whole pins (subsets too); `crosslab keys show FILE` prints what to compare out of band."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import run_cli

from crosslab.identity.keys import load_identity
from crosslab.suites.pins import pin_digest
from crosslab.suites.registry import get_suite


def test_suites_prints_whole_digests_even_on_a_narrow_terminal():
    result = run_cli("suites", env={"COLUMNS": "40"})
    assert result.returncode == 0, result.stderr
    for name in ("smoke", "jailbreak"):
        assert f"  - {{name: {name}, digest: {get_suite(name).content_digest()}}}" in result.stdout


def test_subset_pin_is_the_digest_the_protocol_check_uses():
    result = run_cli("suites", "--suite", "jailbreak", "--subset", "8")
    assert result.returncode == 0, result.stderr
    [line] = [x for x in result.stdout.splitlines() if "subset: 8" in x]
    assert line.strip() == f"- {{name: jailbreak, digest: {pin_digest('jailbreak', 8)}, subset: 8}}"
    assert pin_digest("jailbreak", 8) != get_suite("jailbreak").content_digest()
    assert "smoke" not in result.stdout


def test_suites_refuses_an_unknown_suite_in_one_line():
    result = run_cli("suites", "--suite", "nosuch")
    assert result.returncode == 2 and result.stderr.strip().startswith("crosslab: error: no suite 'nosuch'")


@pytest.fixture(scope="module")
def identity_file(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("keys")
    made = run_cli("keys", "new", "lab-b", "--name", "Lab B", "--out", str(root / "shared"),
                   "--keystore", str(root / "keystore"))
    assert made.returncode == 0, made.stderr
    return root / "shared" / "lab-b.identity.json"


def test_keys_show_prints_a_received_identitys_fingerprint_and_key_ids(identity_file: Path):
    identity = load_identity(identity_file)
    result = run_cli("keys", "show", str(identity_file))
    assert result.returncode == 0, result.stderr
    assert re.search(rf"^fingerprint:\s+{identity.fingerprint}$", result.stdout, re.M)
    assert re.search(r"^lab:\s+lab-b$", result.stdout, re.M)
    assert re.search(rf"^signing key id:\s+{identity.signing_key.keyid}$", result.stdout, re.M)
    assert re.search(rf"^age recipient:\s+{identity.age_recipient}$", result.stdout, re.M)
    assert identity.fingerprint[:4] + " " + identity.fingerprint[4:8] in result.stdout  # read-aloud groups


@pytest.mark.parametrize("content, expected", [
    (None, "cannot read identity file"),
    (b"not json", "is not valid JSON"),
    (b"{}", "lab: Field required"),
    ("edited", "fingerprint mismatch"),
])
def test_keys_show_of_a_bad_file_is_one_line(identity_file: Path, tmp_path: Path, content, expected: str):
    path = tmp_path / "partner.identity.json"
    if content == "edited":
        content = identity_file.read_bytes().replace(b"Lab B", b"Lab X")
    if content is not None:
        path.write_bytes(content)
    result = run_cli("keys", "show", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    assert line.startswith("crosslab: error: ") and expected in line
