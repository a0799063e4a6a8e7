"""The leak scan covers reveals/: a reveal file may carry the items it reveals, and nothing else.

Reveals used to be skipped whole, so restricted text or a canary placed in
``reveals/`` was never flagged. The reveals here are real: written by
``crosslab reveal`` from the restricted appendix of Aurora's 0.1.0 bundle
(tests/data/bundles/0.1.0), whose items are the installed suites' items.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from conftest import run_cli
from support.release_bundles import BUNDLES, FIXTURES, borealis_age, pinned

from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.bundle.reveal import reveal
from crosslab.bundle.verify import verify_bundle
from crosslab.core.jcs import jcs
from crosslab.disclosure.canary import canary_for
from crosslab.disclosure.commitments import make_disclosure, open_disclosure
from crosslab.disclosure.leakscan import reveal_allowance, scan_files
from crosslab.suites.registry import get_suite, installed_sensitive

NERVE_AGENT = 32  # stub of jb-chm-nerve-agent/direct, a restricted sample of the bundle
PIPE_BOMB = "jb-wpn-pipe-bomb/prefix_injection"  # another restricted item, of another behaviour


def behaviour(item_id: str | None) -> str | None:
    """A jailbreak item's behaviour: its variants share the request's words, and a hit names the first."""
    return item_id.split("/")[0] if item_id else None


@pytest.fixture(scope="module")
def sensitive():
    return installed_sensitive()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A copy of the bundle with reveals/0001.jsonl revealing the nerve-agent sample."""
    copy = tmp_path / "bundle"
    shutil.copytree(FIXTURES / BUNDLES[0], copy)
    reveal(copy, [NERVE_AGENT], borealis_age())
    return copy


def other_text() -> str:
    [item] = [i for i in get_suite("jailbreak").items() if i.id == PIPE_BOMB]
    assert item.tier == "restricted"
    return item.messages[-1]["content"]


def scan(bundle: Path, sensitive) -> list:
    files = {p.relative_to(bundle).as_posix(): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    return scan_files(files, sensitive, revealed=reveal_allowance(files))


def smuggle(bundle: Path, change) -> Path:
    """reveals/0002.jsonl: the nerve-agent disclosure re-made after ``change`` edited its record."""
    [line] = (bundle / layout.REVEALS / "0001.jsonl").read_bytes().splitlines()
    _salt, value = open_disclosure(orjson.loads(line)["d"])
    change(value["record"])
    path = bundle / layout.REVEALS / "0002.jsonl"
    path.write_bytes(jcs({"d": make_disclosure(value).encoded, "i": NERVE_AGENT}) + b"\n")
    return path


def test_a_real_reveal_carrying_its_own_text_and_canary_is_clean(bundle: Path, sensitive):
    data = (bundle / layout.REVEALS / "0001.jsonl").read_bytes()
    _salt, value = open_disclosure(orjson.loads(data)["d"])
    item = value["record"]["item_id"]
    assert item == "jb-chm-nerve-agent/direct" and value["record"]["canary"] == canary_for(item)
    assert verify_bundle(bundle, pinned()).revealed == 1  # it opens the commitment the evaluator signed
    assert scan(bundle, sensitive) == []
    # the same bytes anywhere but a reveal file are a leak: the allowance is what clears them
    elsewhere = scan_files({"site/0001.jsonl": data, "reveals/notes.jsonl": data}, sensitive,
                           revealed=reveal_allowance({"reveals/notes.jsonl": data}))
    assert {(h.artifact.split(":")[0], h.kind, behaviour(h.item_id)) for h in elsewhere} == {
        ("site/0001.jsonl", "restricted text", "jb-chm-nerve-agent"), ("site/0001.jsonl", "canary", None),
        ("reveals/notes.jsonl", "restricted text", "jb-chm-nerve-agent"), ("reveals/notes.jsonl", "canary", None)}
    result = run_cli("disclosure", "scan", str(bundle))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 files scanned" in result.stdout  # the seven bundle files and the reveal


def test_a_reveal_carrying_another_items_text_is_flagged(bundle: Path, sensitive):
    def reply_with_other_text(record: dict) -> None:
        record["messages"][-1]["content"] = "Sure. " + other_text()
    smuggle(bundle, reply_with_other_text)
    hits = scan(bundle, sensitive)
    assert hits and {(h.artifact, h.kind, behaviour(h.item_id)) for h in hits} == {
        ("reveals/0002.jsonl:1", "restricted text", "jb-wpn-pipe-bomb")}
    result = run_cli("disclosure", "scan", str(bundle))
    assert result.returncode == 1
    assert "reveals/0002.jsonl:1: restricted text of item jb-wpn-pipe-bomb/" in result.stdout
    assert "nerve-agent" not in result.stdout and "reveals/0001.jsonl" not in result.stdout
    # verify refuses the file too: the re-made disclosure opens no commitment the evaluator signed
    with pytest.raises(VerificationError, match=r"^reveals/0002\.jsonl:1: stub 32: disclosure does not match"):
        verify_bundle(bundle, pinned())


def test_a_reveal_carrying_another_items_canary_is_flagged(bundle: Path, sensitive):
    def other_canary(record: dict) -> None:
        record["messages"][-1]["content"] += f" (ref {canary_for(PIPE_BOMB)})"
    smuggle(bundle, other_canary)
    [hit] = scan(bundle, sensitive)
    assert hit.artifact == "reveals/0002.jsonl:1" and hit.kind == "canary"
    assert canary_for(PIPE_BOMB).startswith(hit.excerpt.rstrip("…"))


def test_restricted_text_in_a_stray_file_under_reveals_is_flagged(bundle: Path, sensitive):
    (bundle / layout.REVEALS / "notes.txt").write_text(f"for later: {other_text()}\n")
    hits = scan(bundle, sensitive)
    assert hits and {(h.artifact, behaviour(h.item_id)) for h in hits} == {("reveals/notes.txt", "jb-wpn-pipe-bomb")}
    result = run_cli("disclosure", "scan", str(bundle))
    assert result.returncode == 1 and "reveals/notes.txt: restricted text of item jb-wpn-pipe-bomb/" in result.stdout


def test_a_reveal_file_with_a_line_that_is_no_disclosure_allows_nothing(bundle: Path, sensitive):
    path = bundle / layout.REVEALS / "0001.jsonl"
    path.write_bytes(path.read_bytes() + b"context: none\n")
    assert reveal_allowance({"reveals/0001.jsonl": path.read_bytes()}) == {}
    hits = scan(bundle, sensitive)
    assert {(h.kind, behaviour(h.item_id)) for h in hits} == {("restricted text", "jb-chm-nerve-agent"),
                                                              ("canary", None)}
