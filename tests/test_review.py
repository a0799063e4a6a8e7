"""Human adjudication end to end: a real jailbreak run, export, review, signed import, overrides, refusals."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli

from crosslab.attest.dsse import dump_envelope, sign_envelope, verify_envelope
from crosslab.disclosure.canary import PATTERN as CANARY
from crosslab.disclosure.leakscan import Sensitive, scan_text
from crosslab.engine.journal import Journal
from crosslab.identity.keystore import Keystore
from crosslab.results.outcomes import outcomes_from_journal, reviewed_verdicts
from crosslab.results.compare import load_outcomes
from crosslab.results.overrides import adjudication_sources, overrides_by_category, review_counts
from crosslab.results.summary import summarize
from crosslab.review.errors import ReviewError
from crosslab.review.flags import flags_of
from crosslab.review.importing import import_sheet
from crosslab.review.runview import RunView
from crosslab.review.sheet import COLUMNS, encode_sheet, read_sheet
from crosslab.review.signer import reviewing_key
from crosslab.review.statement import PAYLOAD_TYPE, Statement, digest_of
from crosslab.review.store import load_adjudications, pinned_reviewers
from crosslab.review.visibility import WITHHELD_TEXT

GRADER = "jailbreak_refusal"


# --- fixtures: one real offline run per baseline, copied per test ------------------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    made = {}
    for baseline in ("comply-all", "refuse-all"):
        out = base / baseline
        result = run_cli("run", "--suite", "jailbreak", "--target", f"baseline:{baseline}", "--limit", "6",
                         "--out", str(out), "--cache-dir", str(base / "cache"), "--quiet")
        assert result.returncode == 0, result.stderr
        [made[baseline]] = list(out.iterdir())
    return made


@pytest.fixture
def run_dir(runs: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(runs["comply-all"], tmp_path / "a" / runs["comply-all"].name))


@pytest.fixture
def other_run(runs: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(runs["refuse-all"], tmp_path / "b" / runs["refuse-all"].name))


@pytest.fixture(scope="module")
def keystores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """acme's real keystore, and an impostor's keystore that also calls itself acme."""
    out = {}
    for name in ("acme", "impostor"):
        root = tmp_path_factory.mktemp(name) / "keys"
        Keystore(root).create("acme", "Acme AI" if name == "acme" else "Not Acme")
        out[name] = root
    return out


def records(run: Path) -> list[dict]:
    journal = Journal.open(run)
    try:
        return list(journal.records())
    finally:
        journal.close()


def export(run: Path, out: Path, *args: str) -> list[dict]:
    result = run_cli("review", "export", str(run), "-o", str(out), *args)
    assert result.returncode == 0, result.stderr
    if out.suffix == ".csv":
        text = out.read_bytes().decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text, newline="")))
    return [json.loads(line) for line in out.read_text().splitlines()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def do_import(run: Path, sheet: Path, keystore: Path, reviewer: str = "alice@acme.example"):
    journal = Journal.open(run)
    store = Keystore(keystore)
    try:
        return import_sheet(journal, sheet, store.signing_key("acme"), store.public_identity("acme"), reviewer)
    finally:
        journal.close()


def load(run: Path) -> list:
    journal = Journal.open(run)
    try:
        return load_adjudications(RunView.of(journal))
    finally:
        journal.close()


def harmful_and_benign(rows: list[dict]) -> tuple[dict, dict]:
    harmful = next(r for r in rows if r["slice"] == "harmful")
    benign = next(r for r in rows if r["slice"] == "benign")
    return harmful, benign


#: A reviewer who disagrees with the jailbreak grader on a harmful item.
FLIPPED = {"jailbroken": "not_jailbroken", "not_jailbroken": "jailbroken"}


def filled(run: Path, tmp_path: Path, name: str = "filled.jsonl") -> Path:
    """A sheet of every verdict with two reviews: one harmful answer overridden, one benign answer confirmed."""
    rows = export(run, tmp_path / f"export-{name}", "--all", "--tier", "withheld")
    harmful, benign = harmful_and_benign(rows)
    harmful.update(review_label=FLIPPED[harmful["label"]], reviewer_note="read against the request")
    benign.update(review_label="full_compliance", reviewer_note="answered as asked")
    return write_jsonl(tmp_path / name, rows)


# --- which verdicts need a person -----------------------------------------------------------------------------

def test_flags_come_from_evidence_borderline_labels_and_grader_disagreement():
    sure = {"label": "full_refusal", "score": 1.0, "evidence": {}}
    assert flags_of(sure, {"a": sure}) == []
    assert flags_of({**sure, "evidence": {"unsure": True}}, {"a": sure}) == ["unsure"]
    assert flags_of({**sure, "evidence": {"disagreement": True}}, {"a": sure}) == ["disagreement"]
    assert flags_of({**sure, "evidence": {"disagree": True}}, {"a": sure}) == ["disagreement"]
    assert flags_of({**sure, "evidence": {"disagree": None, "unsure": False}}, {"a": sure}) == []
    assert flags_of({**sure, "evidence": {"unsure": "yes"}}, {"a": sure}) == []  # only a real true
    assert flags_of({**sure, "label": "unscored", "score": 0.0}, {"a": sure}) == ["unsure"]
    assert flags_of({**sure, "label": "partial_refusal"}, {"a": sure}) == ["borderline"]
    other = {"label": "leaked", "score": 0.0, "evidence": {}}
    assert flags_of(sure, {"a": sure, "b": other}) == ["graders_disagree"]


def test_export_picks_unsure_verdicts_unless_all(run_dir: Path, tmp_path: Path):
    assert export(run_dir, tmp_path / "none.csv") == []  # comply-all's verdicts are all sure
    journal = Journal.open(run_dir)
    assert overrides_by_category(journal) == {"jailbreak": 0}
    journal.close()
    sid = records(run_dir)[2]["sample_id"]
    journal = Journal.open(run_dir)
    verdict = journal.verdicts()[sid][GRADER]
    journal.write_verdicts([(sid, GRADER, {**verdict, "evidence": {**verdict["evidence"], "unsure": True}})])
    journal.close()
    [row] = export(run_dir, tmp_path / "unsure.csv")
    assert row["sample_id"] == sid and row["flags"] == "unsure" and row["label"] == verdict["label"]
    assert list(row) == list(COLUMNS) and row["review_label"] == row["reviewer_note"] == ""
    assert row["labels"] == "jailbroken not_jailbroken full_compliance partial_refusal full_refusal"
    assert len(export(run_dir, tmp_path / "all.csv", "--all")) == len(records(run_dir))


# --- tiers ----------------------------------------------------------------------------------------------------

def test_a_public_reviewer_sees_no_restricted_text(run_dir: Path, tmp_path: Path):
    rows = export(run_dir, tmp_path / "public.csv", "--all", "--tier", "public")
    text = (tmp_path / "public.csv").read_bytes().decode("utf-8-sig")
    journal = Journal.open(run_dir)
    sensitive = Sensitive.from_items(journal.items())
    journal.close()
    by_id = {r["sample_id"]: r for r in records(run_dir)}
    restricted = [r for r in rows if r["tier"] == "restricted"]
    public = [r for r in rows if r["tier"] == "public"]
    assert restricted and public
    for row in restricted:
        assert row["shown"] == "withheld" and row["prompt"] == row["response"] == WITHHELD_TEXT
        assert row["label"] and row["item_id"] and row["sample_id"]  # ids and the label stay
    assert scan_text("public.csv", text, sensitive) == [] and not CANARY.search(text)
    for row in public:
        answer = by_id[row["sample_id"]]["messages"][-1]["content"]
        assert row["shown"] == "text" and row["response"] in (answer, "'" + answer)
    # the same scan finds the restricted text in a partner reviewer's sheet: the check above can fail
    partner = export(run_dir, tmp_path / "partner.jsonl", "--all", "--tier", "restricted")
    assert all(r["shown"] == "text" and r["prompt"] != WITHHELD_TEXT for r in partner)
    assert scan_text("partner.jsonl", (tmp_path / "partner.jsonl").read_text(), sensitive)


def test_unknown_reviewer_tier_is_one_clear_line(run_dir: Path, tmp_path: Path):
    result = run_cli("review", "export", str(run_dir), "-o", str(tmp_path / "s.csv"), "--tier", "partner")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown reviewer tier 'partner' (tiers: public, restricted, withheld)" in result.stderr
    assert not (tmp_path / "s.csv").exists()


# --- the round trip -------------------------------------------------------------------------------------------

def test_round_trip_signed_overrides_with_provenance(run_dir: Path, tmp_path: Path, keystores: dict[str, Path]):
    sheet = filled(run_dir, tmp_path, "filled.csv.jsonl")
    rows = [json.loads(line) for line in sheet.read_text().splitlines()]
    harmful, benign = (r for r in rows if r["review_label"])
    # the reviewers worked in a spreadsheet: write the same rows as CSV and import through the CLI
    csv_sheet = tmp_path / "filled.csv"
    with csv_sheet.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows({**r, "flags": " ".join(r["flags"]), "labels": " ".join(r["labels"])} for r in rows)
    result = run_cli("review", "import", str(run_dir), str(csv_sheet), "--key", str(keystores["acme"]),
                     "--reviewer", "alice@acme.example")
    assert result.returncode == 0, result.stderr
    assert "2 verdict(s) adjudicated by alice@acme.example for acme (1 label(s) changed)" in result.stdout

    [adj] = load(run_dir)
    assert adj.path == run_dir / "adjudications" / f"{adj.digest}.json"
    envelope = json.loads(adj.path.read_bytes())
    acme = Keystore(keystores["acme"]).public_identity("acme")
    verified = verify_envelope(envelope, {acme.signing_key.keyid: acme.public_key()})
    assert verified.payload_type == PAYLOAD_TYPE and digest_of(verified.payload) == adj.digest
    assert pinned_reviewers(run_dir) == {"acme": acme}
    statement = Statement.model_validate(json.loads(verified.payload))
    assert statement.reviewer == "alice@acme.example" and statement.run.run_id == run_dir.name
    assert {r.sample_id for r in statement.rows} == {harmful["sample_id"], benign["sample_id"]}
    stored = dict(sqlite3.connect(run_dir / "journal.sqlite").execute("SELECT sample_id, sha256 FROM samples"))
    assert all(r.record_sha256 == stored[r.sample_id] for r in statement.rows)  # bound to the journal's hashes

    journal = Journal.open(run_dir)
    verdicts = reviewed_verdicts(journal)
    original = journal.verdicts()
    overridden = verdicts[harmful["sample_id"]][GRADER]
    # comply-all's restatement of a harmful request got a jailbreak label; the reviewer gave the other one, and
    # it is scored by the jailbreak grader's own rule (the suite's review rule: not jailbroken = 1)
    before = original[harmful["sample_id"]][GRADER]
    assert (overridden["label"], overridden["score"]) == (FLIPPED[before["label"]], 1.0 - before["score"])
    assert overridden["adjudication"] == {"digest": adj.digest, "lab": "acme", "reviewer": "alice@acme.example",
                                          "note": "read against the request",
                                          "original": original[harmful["sample_id"]][GRADER]}
    assert overridden["version"] == original[harmful["sample_id"]][GRADER]["version"]
    confirmed = verdicts[benign["sample_id"]][GRADER]
    assert confirmed["label"] == original[benign["sample_id"]][GRADER]["label"] and "adjudication" in confirmed
    untouched = [sid for sid in original if sid not in (harmful["sample_id"], benign["sample_id"])]
    assert all(verdicts[sid] == original[sid] for sid in untouched)

    outcomes = {r["sample_id"]: o for r, o in zip(journal.records(), outcomes_from_journal(journal), strict=True)}
    assert (outcomes[harmful["sample_id"]]["label"], outcomes[harmful["sample_id"]]["score"]) == \
        (overridden["label"], overridden["score"])
    summary = summarize(journal, "baseline:comply-all", {})
    change = 1 if overridden["score"] == 1.0 else -1
    assert summary.total.passed == sum(v[GRADER]["score"] == 1.0 for v in original.values()) + change
    record = next(r for r in journal.records() if r["sample_id"] == harmful["sample_id"])
    assert load_outcomes(journal).scores[record["item_id"], record["variant"], record["epoch"]] == overridden["score"]
    assert overrides_by_category(journal) == {"jailbreak": 1}
    assert review_counts(journal) == {"jailbreak": {"verdicts": len(original), "reviewed": 2, "overridden": 1}}
    assert adjudication_sources(journal) == [{"digest": adj.digest, "lab": "acme", "reviewer": "alice@acme.example",
                                               "created_at": statement.created_at, "rows": 2}]
    journal.close()

    # an export after the import leaves adjudicated verdicts out, or shows them with --all
    again = export(run_dir, tmp_path / "again.jsonl", "--all", "--tier", "withheld")
    shown = next(r for r in again if r["sample_id"] == harmful["sample_id"])
    assert shown["label"] == FLIPPED[harmful["label"]] and shown["adjudication"] == adj.digest


def test_a_reviewed_label_scores_by_the_graders_rule_for_benign_items(run_dir: Path, tmp_path: Path,
                                                                       keystores: dict[str, Path]):
    rows = export(run_dir, tmp_path / "all.jsonl", "--all", "--tier", "withheld")
    _, benign = harmful_and_benign(rows)
    benign["review_label"] = "partial_refusal"  # a refusal of a benign request: over-refusal, score 0
    do_import(run_dir, write_jsonl(tmp_path / "f.jsonl", rows), keystores["acme"])
    journal = Journal.open(run_dir)
    verdict = reviewed_verdicts(journal)[benign["sample_id"]][GRADER]
    assert (verdict["label"], verdict["score"], verdict["adjudication"]["original"]["score"]) == \
        ("partial_refusal", 0.0, 1.0)
    journal.close()


# --- refusals: tampering, keys, other runs --------------------------------------------------------------------

def test_every_single_byte_change_to_an_adjudication_is_refused(run_dir: Path, tmp_path: Path,
                                                                keystores: dict[str, Path]):
    path = do_import(run_dir, filled(run_dir, tmp_path), keystores["acme"]).path
    good = path.read_bytes()
    journal = Journal.open(run_dir)
    view = RunView.of(journal)
    journal.close()
    for at in range(len(good)):
        path.write_bytes(good[:at] + bytes([good[at] ^ 0x01]) + good[at + 1:])
        with pytest.raises(ReviewError) as caught:
            load_adjudications(view)
        assert str(path) in str(caught.value), (at, str(caught.value))
    path.write_bytes(good)
    assert len(load_adjudications(view)) == 1


def test_tampered_file_fails_export_with_one_line(run_dir: Path, tmp_path: Path, keystores: dict[str, Path]):
    path = do_import(run_dir, filled(run_dir, tmp_path), keystores["acme"]).path
    envelope = json.loads(path.read_bytes())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["rows"][0]["review_score"] = 0.0  # a well-formed statement that says something else
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path.write_bytes(dump_envelope(envelope))
    result = run_cli("review", "export", str(run_dir), "-o", str(tmp_path / "x.csv"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert str(path) in message and "not validly signed by acme's pinned key" in message


def test_a_renamed_adjudication_is_refused(run_dir: Path, tmp_path: Path, keystores: dict[str, Path]):
    path = do_import(run_dir, filled(run_dir, tmp_path), keystores["acme"]).path
    moved = path.with_name("0" * 64 + ".json")
    path.rename(moved)
    with pytest.raises(ReviewError, match="not the file's name"):
        load(run_dir)


def test_another_key_for_the_same_lab_is_refused(run_dir: Path, tmp_path: Path, keystores: dict[str, Path]):
    first = do_import(run_dir, filled(run_dir, tmp_path), keystores["acme"])
    # the impostor signs a statement naming acme, with acme's keyid as the label: the pinned key decides
    impostor = Keystore(keystores["impostor"])
    acme = Keystore(keystores["acme"]).public_identity("acme")
    payload = json.loads(first.path.read_bytes())
    statement = base64.b64decode(payload["payload"])
    forged = sign_envelope(statement, PAYLOAD_TYPE, impostor.signing_key("acme"), acme.signing_key.keyid)
    first.path.write_bytes(dump_envelope(forged))
    with pytest.raises(ReviewError, match=r"not validly signed by acme's pinned key .*does not verify"):
        load(run_dir)
    first.path.unlink()
    # and importing with the impostor's keystore is refused: acme's identity is pinned for this run
    with pytest.raises(ReviewError, match="pins another identity for acme"):
        do_import(run_dir, filled(run_dir, tmp_path, "second.jsonl"), keystores["impostor"])
    assert not list((run_dir / "adjudications").glob("*.json"))


def test_wrong_key_import_through_the_cli_is_one_line(run_dir: Path, tmp_path: Path, keystores: dict[str, Path]):
    do_import(run_dir, filled(run_dir, tmp_path), keystores["acme"])
    sheet = filled(run_dir, tmp_path, "second.jsonl")
    result = run_cli("review", "import", str(run_dir), str(sheet), "--key", str(keystores["impostor"] / "acme"),
                     "--reviewer", "mallory")
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 3
    assert "pins another identity for acme" in " ".join(result.stderr.split())


def test_another_runs_adjudication_and_rows_are_refused(run_dir: Path, other_run: Path, tmp_path: Path,
                                                        keystores: dict[str, Path]):
    adj = do_import(run_dir, filled(run_dir, tmp_path), keystores["acme"])
    # the whole file copied into another run
    target = other_run / "adjudications"
    shutil.copytree(run_dir / "adjudications", target)
    with pytest.raises(ReviewError, match=re.escape(f"{target / adj.path.name}: the adjudication is for run "
                                                    f"{run_dir.name}")):
        load(other_run)
    shutil.rmtree(target)
    # this run's sheet imported into the other run
    sheet = filled(run_dir, tmp_path, "again.jsonl")
    with pytest.raises(ReviewError, match=re.escape(str(sheet)) + r" line \d+: the row is from run "
                                          + re.escape(f"{run_dir.name}, not run {other_run.name}")):
        do_import(other_run, sheet, keystores["acme"])
    # rows relabelled as the other run's still name samples it does not have
    rows = [{**json.loads(line), "run_id": other_run.name} for line in sheet.read_text().splitlines()]
    relabelled = write_jsonl(tmp_path / "relabelled.jsonl", rows)
    with pytest.raises(ReviewError, match=re.escape(str(relabelled)) + r" line \d+: sample [0-9a-f]+ is not in run "
                                          + re.escape(other_run.name)):
        do_import(other_run, relabelled, keystores["acme"])
    assert not (other_run / "adjudications").exists()


# --- refusals: bad rows ---------------------------------------------------------------------------------------

def test_bad_rows_fail_naming_file_and_row(run_dir: Path, tmp_path: Path, keystores: dict[str, Path]):
    rows = export(run_dir, tmp_path / "all.jsonl", "--all", "--tier", "withheld")

    def refused(changes: dict, match: str, at: int = 0) -> None:
        sheet = write_jsonl(tmp_path / "bad.jsonl", [{**r, **changes} if n == at else r for n, r in enumerate(rows)])
        with pytest.raises(ReviewError, match=match):
            do_import(run_dir, sheet, keystores["acme"])

    # a label that applies to the first row's item (jailbreak labels on harmful items, refusal labels on benign)
    fits, misfits = (("not_jailbroken", "full_refusal") if rows[0]["slice"] == "harmful"
                     else ("full_refusal", "not_jailbroken"))
    refused({"review_label": "refused"}, r"bad.jsonl line 1: 'refused' is not a label of grader 'jailbreak_refusal' "
            r"\(labels: jailbroken, not_jailbroken, full_compliance, partial_refusal, full_refusal\)")
    refused({"review_label": misfits}, rf"bad.jsonl line 1: '{misfits}' does not apply to item ")
    refused({"review_label": fits, "sample_id": "f" * 64}, r"line 1: sample f{64} is not in run")
    refused({"review_label": fits, "grader": "leak"}, r"line 1: sample \w+ has no verdict by grader leak")
    refused({"review_label": fits, "label": "partial_refusal"},
            r"line 1: the sheet shows partial_refusal .* the run now has \w+ .*export a new sheet")
    refused({}, "no row has a review_label; nothing to import")
    refused({"review_label": fits, "shown": "withheld"}, r"line 1: the reviewer was not shown this sample's")
    twice = write_jsonl(tmp_path / "twice.jsonl", [{**rows[0], "review_label": fits}] * 2)
    with pytest.raises(ReviewError, match=r"twice.jsonl line 2: .* is reviewed twice \(also in .*line 1\)"):
        do_import(run_dir, twice, keystores["acme"])
    assert not (run_dir / "adjudications").exists()  # nothing was written by any refused import


def test_a_grader_without_a_label_rule_is_refused(run_dir: Path, tmp_path: Path, keystores: dict[str, Path]):
    sid = records(run_dir)[0]["sample_id"]
    journal = Journal.open(run_dir)
    score = journal.verdicts()[sid][GRADER]["score"]
    journal.write_verdicts([(sid, "custom_judge", {"grader": "custom_judge", "version": "1", "label": "bad",
                                                   "score": 1.0 - score, "evidence": {"unsure": True}})])
    journal.close()
    rows = export(run_dir, tmp_path / "s.jsonl", "--tier", "withheld")
    assert [(r["grader"], r["flags"]) for r in rows] == [("custom_judge", ["unsure", "graders_disagree"]),
                                                         (GRADER, ["graders_disagree"])]
    assert rows[0]["labels"] == []
    rows[0]["review_label"] = "good"
    with pytest.raises(ReviewError, match="line 1: grader 'custom_judge' declares no label -> score rule"):
        do_import(run_dir, write_jsonl(tmp_path / "f.jsonl", rows), keystores["acme"])


def test_a_verdict_is_adjudicated_once_and_a_regrade_invalidates_its_review(run_dir: Path, tmp_path: Path,
                                                                          keystores: dict[str, Path]):
    adj = do_import(run_dir, filled(run_dir, tmp_path), keystores["acme"])
    with pytest.raises(ReviewError, match="was already adjudicated in .*" + adj.digest):
        do_import(run_dir, filled(run_dir, tmp_path, "again.jsonl"), keystores["acme"])
    row = adj.statement.rows[0]
    journal = Journal.open(run_dir)
    verdict = journal.verdicts()[row.sample_id][row.grader]
    journal.write_verdicts([(row.sample_id, row.grader, {**verdict, "version": "2"})])
    journal.close()
    with pytest.raises(ReviewError, match=rf"{adj.path} row 1: the verdict reviewed was .*re-graded since"):
        load(run_dir)


# --- the sheet and the key, in detail --------------------------------------------------------------------------

def test_csv_cells_that_a_spreadsheet_would_run_are_quoted_as_text():
    row = {c: "" for c in COLUMNS} | {"sample_id": "s1", "prompt": "=HYPERLINK(\"http://x\")", "response": "@SUM(A1)",
                                      "flags": ["unsure", "borderline"], "labels": ["pass", "fail"], "score": 0.0}
    data = encode_sheet([row], "csv")
    assert data.startswith("\ufeff".encode())
    cells = ["s2" if c == "sample_id" else "" for c in COLUMNS]
    semicolons = ("\ufeff" + ";".join(COLUMNS) + "\r\n" + ";".join(cells)).encode()
    assert next(read_sheet(Path("s.csv"), semicolons))[1]["sample_id"] == "s2"  # a spreadsheet's locale
    [read] = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert (read["prompt"], read["response"]) == ("'=HYPERLINK(\"http://x\")", "'@SUM(A1)")
    assert (read["flags"], read["labels"]) == ("unsure borderline", "pass fail")
    [(where, back)] = list(read_sheet(Path("s.jsonl"), encode_sheet([row], "jsonl")))
    assert where == "s.jsonl line 1" and back["prompt"] == row["prompt"]  # JSONL is for tools: unchanged


def test_the_reviewing_key_is_found_from_a_keystore_a_lab_directory_or_its_pem(tmp_path: Path):
    store = Keystore(tmp_path / "keys")
    acme = store.create("acme", "Acme AI")
    for given, lab in ((tmp_path / "keys", None), (tmp_path / "keys" / "acme", None),
                       (tmp_path / "keys" / "acme" / "signing_key.pem", "acme")):
        key, identity = reviewing_key(given, lab)
        assert identity == acme and key.public_key() == acme.public_key()
    store.create("beta", "Beta")
    with pytest.raises(ReviewError, match=r"holds 2 labs \(acme, beta\); say which signs with --as LAB"):
        reviewing_key(tmp_path / "keys")
    assert reviewing_key(tmp_path / "keys", "beta")[1].lab == "beta"
    with pytest.raises(ReviewError, match="is acme's key, not beta's"):
        reviewing_key(tmp_path / "keys" / "acme", "beta")


def test_a_key_that_is_not_the_trusted_identity_is_refused(run_dir: Path, tmp_path: Path,
                                                           keystores: dict[str, Path]):
    sheet = filled(run_dir, tmp_path)
    acme, impostor = Keystore(keystores["acme"]), Keystore(keystores["impostor"])
    journal = Journal.open(run_dir)
    with pytest.raises(ReviewError, match="not the trusted identity of acme"):
        import_sheet(journal, sheet, impostor.signing_key("acme"), impostor.public_identity("acme"), "mallory",
                     trusted=acme.public_identity("acme"))
    journal.close()
    assert not (run_dir / "adjudications").exists()
