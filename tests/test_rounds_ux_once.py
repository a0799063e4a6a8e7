"""A bundle is countersigned once and each stub revealed once: a repeat is refused and changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from conftest import run_cli

from crosslab.bundle import layout
from tests.support.smoke_round import smoke_round


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    return smoke_round(tmp_path_factory.mktemp("once"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_second_countersignature_is_refused(world: dict, tmp_path: Path):
    bundle = tmp_path / "bundle"
    shutil.copytree(world["bundle"], bundle)
    sign = ["bundle", "countersign", str(bundle), "--as", "lab-b", "--keys", str(world["keys"])]
    first = run_cli(*sign, "--response", "We agree.", env=world["env"])
    assert first.returncode == 0, first.stderr
    before = snapshot(bundle)
    again = run_cli(*sign, "--response", "On reflection, we disagree.", env=world["env"])
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert f"{bundle} is already countersigned by lab-b; refusing to replace that countersignature and its " \
           "reply" in " ".join(again.stderr.split())
    assert snapshot(bundle) == before
    verified = run_cli("verify", str(bundle), "--keys", str(world["keys"]))
    assert verified.returncode == 0 and "reply: We agree." in verified.stdout


def test_a_duplicate_reveal_is_refused(world: dict, tmp_path: Path):
    bundle = tmp_path / "bundle"
    shutil.copytree(world["bundle"], bundle)
    shutil.copytree(world["bundle"].with_name("bundle.private"), tmp_path / "bundle.private")
    stubs = [orjson.loads(line) for line in (bundle / layout.ITEMS).read_bytes().splitlines()]
    hidden = [s["i"] for s in stubs if s["tier"] != "public"]
    assert len(hidden) >= 2, "the smoke suite must hold two restricted or withheld items"
    first = run_cli("reveal", str(bundle), "--items", str(hidden[0]))
    assert first.returncode == 0, first.stderr
    before = snapshot(bundle)
    for items in (str(hidden[0]), f"{hidden[1]},{hidden[0]}"):  # the same again, or among new ones
        again = run_cli("reveal", str(bundle), "--items", items)
        assert again.returncode == 2 and "Traceback" not in again.stderr
        assert f"stub(s) {hidden[0]} already revealed in reveals/0001.jsonl" in again.stderr
        assert snapshot(bundle) == before
    other = run_cli("reveal", str(bundle), "--items", str(hidden[1]))
    assert other.returncode == 0, other.stderr
    verified = run_cli("verify", str(bundle), "--keys", str(world["keys"]))
    assert verified.returncode == 0 and "revealed later: 2 disclosures" in verified.stdout
