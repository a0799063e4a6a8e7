"""A buyer verifies with whatever crosslab they have: bundles from other versions, other suite code.

The fixtures under tests/data/bundles/0.1.0 were written by crosslab 0.1.0
(bundle format 1) and must verify with every later version. A second install
(a copy of this crosslab with one grader constant and one suite changed) must
verify them too, saying which suite metrics it could not re-check and why,
while the same change *without* a new metrics version is caught as a mismatch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli
from support.release_bundles import BUNDLES, FIXTURES, TRUSTED, borealis_age, pinned, resigned

import crosslab
from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.bundle.installed import installed_definitions
from crosslab.bundle.verify import verify_bundle
from crosslab.disclosure.encryption import decrypt_with

SUITES = ("hallucination", "instruction_hierarchy", "jailbreak", "scheming")


@pytest.mark.parametrize("name", BUNDLES)
def test_release_0_1_0_bundles_verify_and_recheck_every_suite(name: str):
    definitions = installed_definitions()
    result = verify_bundle(FIXTURES / name, pinned(), partner_identity=borealis_age(),
                           metric_definitions=definitions)
    assert result.format_version == "1.0" and result.crosslab_version == "0.1.0"
    assert result.stubs == 58 and result.public_verified == 38 and result.restricted_verified == 20
    assert result.round == {"number": 1, "date": "2026-12-03", "previous": None}
    by_suite = {c.suite: c for c in result.suite_metrics}
    assert set(by_suite) == set(SUITES)
    for suite, check in by_suite.items():
        assert check.bundle_version == 1 and check.bundle_crosslab == "0.1.0"
        # a suite whose metrics changed must have bumped its version; then it is not re-checked, and says so
        expected = "rechecked" if definitions[suite].version == 1 else "not_rechecked"
        assert check.status == expected, check.line()


def test_without_definitions_nothing_is_rechecked_but_everything_else_verifies():
    result = verify_bundle(FIXTURES / BUNDLES[0], pinned())
    assert [c.status for c in result.suite_metrics] == ["not_rechecked"] * 4
    assert all("this verifier has no definition for them" in c.line() for c in result.suite_metrics)
    with pytest.raises(VerificationError, match=r"statement.dsse.json: suite metrics not re-checked.*--strict"):
        verify_bundle(FIXTURES / BUNDLES[0], pinned(), strict=True)


def test_verify_json_gives_the_same_result(tmp_path: Path):
    result = run_cli("verify", str(FIXTURES / BUNDLES[0]), "--keys", str(TRUSTED), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["verified"] is True and data["evaluator"] == "aurora" and data["evaluated"] == "borealis"
    assert data["protocol_id"] == json.loads(run_cli("verify", str(FIXTURES / BUNDLES[1]), "--keys", str(TRUSTED),
                                                     "--json").stdout)["protocol_id"]
    assert data["round"]["number"] == 1 and data["format_version"] == "1.0"
    assert {s["suite"]: s["status"] for s in data["suite_metrics"]}["jailbreak"] in ("rechecked", "not_rechecked")
    assert all(s["message"] for s in data["suite_metrics"])
    broken = tmp_path / "b"
    shutil.copytree(FIXTURES / BUNDLES[0], broken)
    (broken / layout.PUBLIC).write_bytes((broken / layout.PUBLIC).read_bytes()[:-2] + b"\n")
    failed = run_cli("verify", str(broken), "--keys", str(TRUSTED), "--json")
    assert failed.returncode == 1
    assert json.loads(failed.stdout) == {"verified": False, "bundle": str(broken),
                                         "error": json.loads(failed.stdout)["error"]}
    assert json.loads(failed.stdout)["error"].startswith("public.jsonl")


def test_human_output_names_round_protocol_and_suite_statuses():
    result = run_cli("verify", str(FIXTURES / BUNDLES[0]), "--keys", str(TRUSTED))
    assert result.returncode == 0, result.stderr
    protocol_id = hashlib.sha256((FIXTURES / BUNDLES[0] / layout.PROTOCOL).read_bytes()).hexdigest()
    assert f"round 1 of 2026-12-03, protocol {protocol_id}" in result.stdout
    assert "bundle format 1.0, written by crosslab 0.1.0" in result.stdout
    assert re.search(r"jailbreak metrics v\d", result.stdout)


# A second install: a copy of this crosslab, changed, first on PYTHONPATH.

def second_install(tmp_path: Path, *, constant: tuple[str, str, str] | None = None,
                   jailbreak_version: int | None = None, drop_jailbreak: bool = False) -> dict[str, str]:
    """A copy of this crosslab on its own path; ``constant`` = (module file, NAME, new value) edits one constant."""
    site = tmp_path / "site"
    shutil.copytree(Path(crosslab.__file__).parent, site / "crosslab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if constant is not None:
        module, name, value = constant
        path = site / "crosslab" / module
        text, n = re.subn(rf"^{name} = .+$", f"{name} = {value}", path.read_text(), flags=re.M)
        assert n == 1
        path.write_text(text)
    if jailbreak_version is not None:
        init = site / "crosslab" / "suites" / "jailbreak" / "__init__.py"
        init.write_text(init.read_text() + "\n\n_release_suite = suite\n\n\ndef suite():\n"
                        "    import dataclasses\n"
                        f"    return dataclasses.replace(_release_suite(), metrics_version={jailbreak_version})\n")
    if drop_jailbreak:
        shutil.rmtree(site / "crosslab" / "suites" / "jailbreak")
    return {"PYTHONPATH": str(site)}


def verify_there(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", "import crosslab, sys; print(crosslab.__file__, file=sys.stderr);"
                           "from crosslab.cli.app import main; main()",
                           "verify", str(FIXTURES / BUNDLES[0]), "--keys", str(TRUSTED), *extra],
                          capture_output=True, text=True, env=full, timeout=120)


def test_second_install_with_new_metrics_version_verifies_with_a_status_line(tmp_path: Path):
    env = second_install(tmp_path, constant=("grading/refusal.py", "CONTENT_WORDS", "10_000"), jailbreak_version=99)
    result = verify_there(env)
    assert str(tmp_path / "site") in result.stderr  # the copy ran, not this install
    assert result.returncode == 0, result.stderr
    assert ("suite metrics not re-checked: bundle made with jailbreak metrics v1 (crosslab 0.1.0), "
            "this verifier has v99") in result.stdout
    assert "scheming metrics v1: recomputed from the stubs, equal" in result.stdout
    strict = verify_there(env, "--strict")
    assert strict.returncode == 1
    assert "statement.dsse.json: suite metrics not re-checked" in strict.stderr and "Traceback" not in strict.stderr


def test_second_install_that_changed_a_grader_constant_without_a_new_version_is_caught(tmp_path: Path):
    """The same definition must give the same rows: a silent change reads as a mismatch, never as a pass."""
    # high-stakes domains narrowed to medicine alone, metrics_version still 1
    result = verify_there(second_install(tmp_path, constant=("suites/hallucination/metrics.py", "HIGH_STAKES",
                                                              '("medicine",)')))
    assert result.returncode == 1
    assert "statement.dsse.json: hallucination metrics (v1) differ from those recomputed from the stubs" \
        in result.stderr


def test_install_without_the_jailbreak_suite_still_verifies(tmp_path: Path):
    result = verify_there(second_install(tmp_path, drop_jailbreak=True))
    assert result.returncode == 0, result.stderr
    assert ("suite metrics not re-checked: bundle made with jailbreak metrics v1 (crosslab 0.1.0), "
            "this verifier has no definition for them") in result.stdout


# Formats this verifier does not know.

@pytest.mark.parametrize(("version", "message"), [
    ("4.0", "bundle format 4.0 is not one this verifier reads (it reads 1.x, 2.x, 3.x)"),
    ("2", "format_version '2' is not MAJOR.MINOR"),
    ("1.0", "format 1 bundles carry no format_version field"),
])
def test_unknown_format_versions_are_refused_clearly(tmp_path: Path, version: str, message: str):
    bundle = resigned(tmp_path, lambda p: p.update(format_version=version))
    with pytest.raises(VerificationError, match=re.escape(f"statement.dsse.json: {message}")):
        verify_bundle(bundle, pinned(), metric_definitions=installed_definitions())


def test_a_minor_version_is_read_by_this_verifier(tmp_path: Path):
    def newer(p: dict) -> None:
        p["format_version"] = "2.7"
        p["suite_metrics"] = {c: {"suite": c, "metrics_version": 1, "crosslab_version": "0.1.0"}
                              for c in p["metrics"]["suites"]}
    result = verify_bundle(resigned(tmp_path, newer), pinned(), metric_definitions=installed_definitions())
    assert result.format_version == "2.7" and len(result.suite_metrics) == 4


def test_format_2_must_declare_every_suite_definition(tmp_path: Path):
    def undeclared(p: dict) -> None:
        p["format_version"] = "2.0"
        p["suite_metrics"] = {"jailbreak": {"suite": "jailbreak", "metrics_version": 1, "crosslab_version": "0.1.0"}}
    with pytest.raises(VerificationError, match="suite_metrics must declare one definition per category"):
        verify_bundle(resigned(tmp_path, undeclared), pinned())


def test_fixture_restricted_appendix_decrypts_with_the_published_demo_key():
    plain = decrypt_with(borealis_age(), (FIXTURES / BUNDLES[0] / layout.RESTRICTED).read_bytes())
    assert plain.count(b"\n") == 20
