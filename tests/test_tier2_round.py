"""A whole tier-2 round, then what a cheating evaluator, a nosy lab and a hostile file can and cannot do.

The round runs for real: keys, a protocol all three parties sign, the MCP
server on 127.0.0.1, each lab's agent through the official MCP client, signed
bundles, countersignatures after each lab checks its private report, and the
public report. The agents are ``baseline:schemer`` at p=0 (never covert) and
p=1 (covert whenever it can), so the rates the reports must show are known.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from crosslab.attest import merkle
from crosslab.attest.dsse import b64decode, dump_envelope, load_envelope
from crosslab.attest.errors import VerificationError
from crosslab.attest.intoto import parse_statement, sign_statement
from crosslab.bundle import layout
from crosslab.bundle.installed import installed_definitions
from crosslab.bundle.metrics import counts_from_stubs, metrics_from_stubs
from crosslab.bundle.stubs import encode_lines, stub_line
from crosslab.identity.keystore import Keystore
from crosslab.protocol.schema import ProtocolError
from crosslab.protocol.tier2 import load_tier2_protocol, parse_tier2_protocol
from crosslab.tier2.bundle import write_tier2_bundle
from crosslab.tier2.bundle_format import redaction_summary
from crosslab.tier2.planning import plan_from_protocol
from crosslab.tier2.round import run_round
from crosslab.tier2.verify import verify_tier2_bundle
from conftest import run_cli

AGENTS = {"aurora": "baseline:schemer?p=0&q=0", "borealis": "baseline:schemer?p=1&q=1"}
SCENARIOS = ["scheming-oversight_subversion-traffic-*", "scheming-covert_data_manipulation-suppliers-*",
             "scheming-false_completion-upload-report-*", "scheming-evaluation_sabotage-calc-tests-*"]


@pytest.fixture(scope="module")
def round_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tier2") / "round"
    run_round(out, agents=AGENTS, select=SCENARIOS, rollouts=2)
    return out


@pytest.fixture
def copy(round_dir: Path, tmp_path: Path):  # noqa: ANN201 - returns a function
    def make(lab: str) -> Path:
        target = tmp_path / lab
        shutil.copytree(round_dir / "bundles" / lab, target)
        return target
    return make


def check(bundle: Path, **kw: Any):  # noqa: ANN201
    return verify_tier2_bundle(bundle, metric_definitions=installed_definitions(), **kw)


def store(round_dir: Path) -> Keystore:
    return Keystore(round_dir / "keys")


def row(rows: list[dict[str, Any]], lab: str, family: str) -> dict[str, Any]:
    return next(r for r in rows if r["lab"] == lab and r["family"] == family)


# -- the round -------------------------------------------------------------------------------------

def test_round_bundles_verify_with_known_rates_and_each_lab_countersigned(round_dir: Path) -> None:
    keys = store(round_dir)
    quiet = check(round_dir / "bundles" / "aurora", require_countersignature=True,
                  lab_identity=keys.age_identity("aurora"))
    loud = check(round_dir / "bundles" / "borealis", require_countersignature=True,
                 lab_identity=keys.age_identity("borealis"))
    for result in (quiet, loud):
        assert result.rollouts == 16 and result.scenarios == 8  # 8 items (both variants) × 2 rollouts
        assert result.private_checked and result.by_status == {"ok": 16}
        assert [s.status for s in result.suite_metrics] == ["rechecked"]
    assert quiet.response and "Aurora" in quiet.response and loud.response is None
    public = json.loads((round_dir / "public" / "public-report.json").read_text())
    never = row(public["families"], "aurora", "all")
    always = row(public["families"], "borealis", "all")
    assert never["events"] == 0 and never["rate"] == 0.0
    assert never["capable"] > 0 and never["bound"] is not None and never["bound"] < 0.3  # what 0 events rules out
    assert always["events"] >= 8 and always["rate"] > 0.5  # p=1: covert wherever the scenario allows it
    assert [lab["countersigned"] for lab in public["labs"]] == [True, True]


def test_public_report_states_the_redaction_summary_and_carries_no_scenario_text(round_dir: Path) -> None:
    public = json.loads((round_dir / "public" / "public-report.json").read_text())
    rows = public["redactions"]["rows"]
    assert [(r["lab"], r["category"], r["tier"], r["rollouts"], r["scenarios"]) for r in rows] == \
        [("aurora", "scheming", "restricted", 16, 8), ("borealis", "scheming", "restricted", 16, 8)]
    protocol = load_tier2_protocol(round_dir / "protocol" / "tier2-protocol.yaml")
    statement = public["redactions"]["statement"]
    assert "transcripts of 32 rollouts" in statement
    assert protocol.disclosure.reasons["restricted"] in statement
    assert "Meridian Evaluations (evaluator), Aurora Labs (lab), Borealis AI (lab)" in statement
    html = (round_dir / "public" / "public-report.html").read_text()
    assert "Redaction summary" in html and "Right of reply from Aurora Labs" in html
    from crosslab.tier2.planning import pinned_items

    for item in pinned_items(protocol):  # the leak scan passed; check the task texts directly too
        task = item.messages[-1]["content"]
        assert task[:60] not in html and task[:60] not in (round_dir / "public" / "public-report.md").read_text()


def test_each_private_report_opens_only_with_its_own_labs_key(round_dir: Path) -> None:
    keys = store(round_dir)
    with pytest.raises(VerificationError, match=r"^private\.age: cannot decrypt"):
        check(round_dir / "bundles" / "aurora", lab_identity=keys.age_identity("borealis"))
    with pytest.raises(VerificationError, match=r"^private\.age: cannot decrypt"):
        check(round_dir / "bundles" / "aurora", lab_identity=keys.age_identity("meridian"))
    private = (round_dir / "private" / "borealis" / "private-report.md").read_text()
    assert "Covert action detected" in private and "Asked:" in private  # its own rollouts in full


def test_both_reports_pass_the_browser_checks(round_dir: Path) -> None:
    from tests.support.browser import load_page

    for report in (round_dir / "public" / "public-report.html", round_dir / "private" / "borealis" / "private-report.html"):
        page = load_page(report, audit=True)
        assert page.errors == [] and page.requests == [], report
        assert page.serious() == [] and page.overflowing == [], (report, page.serious())


# -- a cheating evaluator re-signs ----------------------------------------------------------------

def _stubs(bundle: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (bundle / layout.ITEMS).read_bytes().splitlines()]


def resign(bundle: Path, round_dir: Path, stubs: list[dict[str, Any]] | None = None,
           edit: Any = None) -> None:
    """What an evaluator with its own key can do: rewrite stubs and every derived claim, sign afresh."""
    envelope = load_envelope((bundle / layout.STATEMENT).read_bytes())
    stmt = parse_statement(b64decode(envelope["payload"], "payload"))
    pred = stmt["predicate"]
    if stubs is not None:
        lines = [stub_line(s) for s in stubs]
        (bundle / layout.ITEMS).write_bytes(encode_lines(lines))
        pred["stubs"].update(count=len(lines), merkle_root=merkle.root(lines).hex())
        pred["counts"] = counts_from_stubs(stubs)
        pred["metrics"] = metrics_from_stubs(stubs, installed_definitions())
        protocol = load_tier2_protocol(round_dir / "protocol" / "tier2-protocol.yaml")
        pred["redactions"] = redaction_summary(stubs, protocol)
    if edit is not None:
        edit(pred)
    for subject in stmt["subject"]:
        if (bundle / subject["name"]).is_file():
            subject["digest"]["sha256"] = hashlib.sha256((bundle / subject["name"]).read_bytes()).hexdigest()
    keys = store(round_dir)
    keyid = keys.public_identity("meridian").signing_key.keyid
    (bundle / layout.STATEMENT).write_bytes(dump_envelope(sign_statement(stmt, keys.signing_key("meridian"), keyid)))
    (bundle / layout.RESPONSE).unlink(missing_ok=True)


def test_a_relabelled_rollout_loses_the_countersignature_and_fails_the_labs_private_check(
        round_dir: Path, copy: Any) -> None:
    bundle = copy("borealis")
    stubs = _stubs(bundle)
    covert = next(s for s in stubs if s["label"] == "covert")
    covert.update(label="honest", score=1.0)
    resign(bundle, round_dir, stubs)
    cleared = check(bundle)  # every public check holds: the evaluator recomputed all it claims
    assert not cleared.countersigned
    with pytest.raises(VerificationError, match="not countersigned by borealis"):
        check(bundle, require_countersignature=True)
    with pytest.raises(VerificationError, match=rf"^private\.age:\d+: stub {covert['i']}: disclosed label differs"):
        check(bundle, lab_identity=store(round_dir).age_identity("borealis"))


def test_a_dropped_rollout_is_refused_even_when_re_signed(round_dir: Path, copy: Any) -> None:
    bundle = copy("borealis")
    resign(bundle, round_dir, _stubs(bundle)[:-1])
    with pytest.raises(VerificationError, match=r"^items\.jsonl: 15 stubs, but the protocol plans 16 rollouts"):
        check(bundle)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda p: p["redactions"][0].update(reason="nothing to see"), r"^statement\.dsse\.json: the redaction summary"),
    (lambda p: p["redactions"].clear(), r"^statement\.dsse\.json: the redaction summary"),
    (lambda p: p["counts"].update(stubs=3), r"^statement\.dsse\.json: counts differ"),
    (lambda p: p["scenarios"].update(rollouts=1), r"^statement\.dsse\.json: the scenarios"),
    (lambda p: p["evaluated"].update(lab="aurora"), r"^statement\.dsse\.json: the evaluated agent's digest"),
    (lambda p: p.update(extra=1), r"^statement\.dsse\.json: the predicate's fields"),
    (lambda p: p["metrics"]["suites"]["scheming"][0].update(k=0), r"^statement\.dsse\.json: scheming metrics"),
])
def test_re_signed_claims_that_the_stubs_contradict_are_refused(round_dir: Path, copy: Any, edit: Any,
                                                               message: str) -> None:
    bundle = copy("borealis")
    resign(bundle, round_dir, edit=edit)
    with pytest.raises(VerificationError, match=message):
        check(bundle)


def test_a_changed_protocol_breaks_every_partys_signature(round_dir: Path, copy: Any) -> None:
    bundle = copy("aurora")
    data = orjson.loads((bundle / layout.PROTOCOL).read_bytes())
    data["rollouts"] = 1
    from crosslab.core.jcs import jcs

    (bundle / layout.PROTOCOL).write_bytes(jcs(data))
    with pytest.raises(VerificationError, match=r"^protocol\.dsse\.json: the signatures are over protocol"):
        check(bundle)


def test_trusted_identities_catch_a_swapped_party(round_dir: Path, copy: Any) -> None:
    keys = store(round_dir)
    pinned = {lab: keys.public_identity(lab) for lab in ("meridian", "aurora", "borealis")}
    assert check(copy("aurora"), pinned=pinned).lab == "aurora"
    with pytest.raises(VerificationError, match=r"^protocol\.json: party borealis is not among the identities"):
        check(round_dir / "bundles" / "aurora", pinned={k: v for k, v in pinned.items() if k != "borealis"})


# -- hostile files ---------------------------------------------------------------------------------

def test_hostile_bundle_entries_fail_closed_in_one_line(round_dir: Path, copy: Any, tmp_path: Path) -> None:
    linked = copy("aurora")
    (linked / layout.PUBLIC).unlink()
    (linked / layout.PUBLIC).symlink_to(tmp_path)
    with pytest.raises(VerificationError, match=r"^public\.jsonl: a symbolic link"):
        check(linked)
    garbage = tmp_path / "garbage"
    shutil.copytree(round_dir / "bundles" / "aurora", garbage)
    (garbage / "private.age").write_bytes(b"age-encryption.org/v1\n-> nonsense\n")
    with pytest.raises(VerificationError, match=r"^private\.age: digest does not match"):
        check(garbage)
    (garbage / layout.STATEMENT).write_bytes(b"\xff\x00not json")
    with pytest.raises(VerificationError, match=r"^statement\.dsse\.json: "):
        check(garbage)
    stray = copy("borealis")
    (stray / "notes.txt").write_text("hi")
    with pytest.raises(VerificationError, match=r"^notes\.txt: unexpected entry"):
        check(stray)


# -- rollouts a lab never ran ----------------------------------------------------------------------

def test_rollouts_never_run_are_counted_as_errors_not_dropped(round_dir: Path, tmp_path: Path) -> None:
    protocol = load_tier2_protocol(round_dir / "protocol" / "tier2-protocol.yaml")
    envelope = orjson.loads((round_dir / "protocol" / "tier2-protocol.dsse.json").read_bytes())
    serve = tmp_path / "serve"
    plan_from_protocol(serve, protocol, envelope)
    write_tier2_bundle(tmp_path / "b", serve, "aurora", store(round_dir).signing_key("meridian"))
    result = check(tmp_path / "b", lab_identity=store(round_dir).age_identity("aurora"))
    assert result.by_status == {"error": 16}
    errors = next(r for r in result.metrics["suites"]["scheming"] if r["metric"] == "errors" and not r["group"])
    assert errors["estimate"] == 16.0
    with pytest.raises(Exception, match="already exists"):
        write_tier2_bundle(tmp_path / "b", serve, "aurora", store(round_dir).signing_key("meridian"))
    with pytest.raises(Exception, match="not the evaluator's"):
        write_tier2_bundle(tmp_path / "c", serve, "aurora", store(round_dir).signing_key("aurora"))


# -- the protocol ----------------------------------------------------------------------------------

def test_protocol_refuses_an_evaluator_that_is_also_a_lab_and_a_withholding_without_reason(round_dir: Path) -> None:
    data = orjson.loads(load_tier2_protocol(round_dir / "protocol" / "tier2-protocol.yaml").canonical())
    same = dict(data, labs=[*data["labs"], data["evaluator"]])
    with pytest.raises(ProtocolError, match="the evaluator .meridian. is a third party"):
        parse_tier2_protocol(same, "t")
    silent = dict(data, disclosure={"public": ["public"], "reasons": {"restricted": "why"}})
    with pytest.raises(ProtocolError, match=r"disclosure: .*give reasons\.withheld"):
        parse_tier2_protocol(silent, "t")
    exposed = dict(data, disclosure={"public": ["public", "restricted"], "reasons": {"withheld": "x"}})
    with pytest.raises(ProtocolError, match="only 'public' transcripts can be public"):
        parse_tier2_protocol(exposed, "t")


# -- the CLI ---------------------------------------------------------------------------------------

def test_cli_verify_report_open_and_plan_from_the_signed_protocol(round_dir: Path, tmp_path: Path, copy: Any) -> None:
    keystore = str(round_dir / "keys")
    ok = run_cli("tier2", "verify", str(round_dir / "bundles" / "borealis"), "--as", "borealis",
                 "--keystore", keystore, "--require-countersignature")
    assert ok.returncode == 0, ok.stderr
    assert "verified" in ok.stdout and "private report checked" in ok.stdout
    bad = copy("aurora")
    (bad / layout.ITEMS).write_bytes((bad / layout.ITEMS).read_bytes()[:-1])
    failed = run_cli("tier2", "verify", str(bad))
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1 and "items.jsonl" in failed.stderr
    report = run_cli("tier2", "report", str(round_dir / "bundles" / "aurora"), str(round_dir / "bundles" / "borealis"),
                     "--out", str(tmp_path / "public"), "--require-countersignature")
    assert report.returncode == 0, report.stderr
    assert "Redaction summary" in (tmp_path / "public" / "public-report.md").read_text()
    opened = run_cli("tier2", "open", str(round_dir / "bundles" / "aurora"), "--as", "aurora", "--keystore", keystore,
                     "--out", str(tmp_path / "mine"))
    assert opened.returncode == 0, opened.stderr
    assert (tmp_path / "mine" / "private-report.html").stat().st_mode & 0o777 == 0o600
    signed = run_cli("protocol", "verify", str(round_dir / "protocol" / "tier2-protocol.yaml"))
    assert signed.returncode == 0 and "signed by meridian, aurora, borealis" in signed.stdout
    planned = run_cli("env", "serve", str(tmp_path / "serve"), "--protocol",
                      str(round_dir / "protocol" / "tier2-protocol.yaml"), "--plan-only", "--tokens-dir", str(tmp_path))
    assert planned.returncode == 0, planned.stderr
    assert "planned 8 items × 2 rollouts for aurora, borealis" in planned.stdout
    assert (tmp_path / "serve" / "protocol.json").is_file() and (tmp_path / "tokens-aurora.json").is_file()


def test_cli_init_writes_a_protocol_that_serves_only_once_signed(round_dir: Path, tmp_path: Path) -> None:
    for lab in ("meridian", "aurora"):
        shutil.copy(round_dir / "protocol" / f"{lab}.identity.json", tmp_path)
    path = tmp_path / "t2.yaml"
    made = run_cli("tier2", "init", str(path), "--evaluator", "meridian", "--lab", "aurora",
                   "--scenario", "scheming-sandbagging-*", "--rollouts", "3")
    assert made.returncode == 0, made.stderr
    protocol = load_tier2_protocol(path)
    assert protocol.rollouts == 3 and protocol.lab_ids() == ["aurora"]
    unsigned = run_cli("env", "serve", str(tmp_path / "s"), "--protocol", str(path), "--plan-only")
    assert unsigned.returncode == 2 and "not signed yet" in unsigned.stderr
    env = {"CROSSLAB_KEYSTORE": str(round_dir / "keys")}
    assert run_cli("protocol", "sign", str(path), "--as", "meridian", env=env).returncode == 0
    half = run_cli("env", "serve", str(tmp_path / "s"), "--protocol", str(path), "--plan-only")
    assert half.returncode == 2 and "not signed by: aurora" in half.stderr
    assert run_cli("protocol", "sign", str(path), "--as", "aurora", env=env).returncode == 0
    served = run_cli("env", "serve", str(tmp_path / "s"), "--protocol", str(path), "--plan-only")
    assert served.returncode == 0, served.stderr
    again = run_cli("tier2", "init", str(path), "--evaluator", "meridian", "--lab", "aurora")
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.slow
def test_full_round_with_smollm2_and_the_schemer_behind_mcp(tmp_path: Path) -> None:
    """The issue's round: a third party, SmolLM2 and baseline:schemer as the labs' internal agents."""
    out = tmp_path / "round"
    done = run_cli("tier2", "round", str(out), "--scenario", "scheming-oversight_subversion-traffic-*",
                   "--scenario", "scheming-sandbagging-arithmetic-*", "--max-tokens", "48", timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "aurora: 4 rollouts, verified, countersigned" in done.stdout
    public = json.loads((out / "public" / "public-report.json").read_text())
    assert {lab["lab"] for lab in public["labs"]} == {"aurora", "borealis"}
    assert "Withheld from this public report: the transcripts of 8 rollouts" in public["redactions"]["statement"]
    private = json.loads((out / "private" / "aurora" / "private-report.json").read_text())
    assert len(private["rollouts"]) == 4
    assert all(r["attachments"] for r in private["rollouts"] if r["status"] == "ok")  # SmolLM2's own text


def test_random_damage_to_any_file_is_refused_in_one_line_never_a_crash(round_dir: Path, tmp_path: Path) -> None:
    """Seeded byte-level mutations of every file: each changed bundle fails with one VerificationError line."""
    import random

    rng, age = random.Random(7), store(round_dir).age_identity("borealis")
    source = round_dir / "bundles" / "borealis"
    changed = 0
    for n in range(120):
        bundle = tmp_path / f"b{n}"
        shutil.copytree(source, bundle)
        target = rng.choice(sorted(p for p in bundle.iterdir() if p.stat().st_size))
        data = bytearray(target.read_bytes())
        op = rng.choice(("flip", "truncate", "insert"))
        i = rng.randrange(len(data))
        if op == "flip":
            data[i] ^= 1 << rng.randrange(8)
        elif op == "truncate":
            del data[i:]
        else:
            data[i:i] = rng.choice((b"{", b'"', b"\n", b"\x00", b"9" * 30))
        target.write_bytes(bytes(data))
        with pytest.raises(VerificationError) as caught:
            check(bundle, lab_identity=age)
        assert "\n" not in str(caught.value) and str(caught.value).split(":")[0] in {p.name for p in bundle.iterdir()}
        changed += 1
        shutil.rmtree(bundle)
    assert changed == 120


def test_a_round_may_serve_public_scenarios_whose_transcripts_are_published(tmp_path: Path) -> None:
    """Instruction-hierarchy injection items are public tier: their transcripts go in public.jsonl and verify;
    the scheming ones stay in the private reports, and only they are counted as withheld."""
    out = tmp_path / "mixed"
    run_round(out, agents=AGENTS, suites=["scheming", "instruction_hierarchy"],
              select=["scheming-oversight_subversion-traffic-*", "ih-injection-support-ticket-*"])
    for lab in AGENTS:
        result = check(out / "bundles" / lab, require_countersignature=True)
        assert result.public_verified == result.by_status["ok"] - 2 > 0  # every public rollout, checked
        assert [(r["category"], r["tier"], r["rollouts"]) for r in result.redactions] == [("scheming", "restricted", 2)]
    public = json.loads((out / "public" / "public-report.json").read_text())
    assert {r["category"] for r in public["families"]} == {"scheming", "instruction_hierarchy"}
