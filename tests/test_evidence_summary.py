"""The one-page procurement summary of an evidence package, from a real registry's published round.

The package is verified before anything is rendered; every figure on the page
is the one the offline verifier recomputed (compared here against
``VerificationResult.metrics`` directly, not against the summary's own JSON);
every buyer question in ``questions.yaml`` is listed, answered or "not covered";
and a package that does not verify is refused with one line and no file.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_cli

from crosslab.evidence import EvidenceError, decode_package, encode_package, verify_package
from crosslab.evidence.summary import build_summary, load_questions, render_summary_html
from crosslab.report.render import pct
from crosslab.transparency import WitnessKey
from tests.support.browser import chromium_path, load_page
from tests.support.evidence_world import evidence_world, trust_args  # noqa: F401 - a session fixture

ARTIFACTS = Path(os.environ.get("CROSSLAB_ARTIFACTS", REPO / "artifacts")) / "screenshots"
QUESTIONS = REPO / "src" / "crosslab" / "evidence" / "questions.yaml"


class Keyed(HTMLParser):
    """Every ``data-key`` element's text, as a reader sees it (nested markup flattened)."""

    def __init__(self) -> None:
        super().__init__()
        self.keyed: dict[str, str] = {}
        self._open: list[tuple[str | None, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("meta", "link", "br", "input", "img"):
            return
        self._open.append((dict(attrs).get("data-key"), []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("meta", "link", "br", "input", "img") or not self._open:
            return
        key, parts = self._open.pop()
        text = "".join(parts)
        if key is not None:
            self.keyed[key] = " ".join(text.split())
        if self._open:
            self._open[-1][1].append(text)

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][1].append(data)


def keyed(html: str) -> dict[str, str]:
    parser = Keyed()
    parser.feed(html)
    return parser.keyed


def render(world: dict, vendor: str, out: Path, *extra: str):
    return run_cli("evidence", "render", str(world["packages"][vendor]), "--out", str(out), *trust_args(world), *extra)


@pytest.fixture(scope="module")
def lab_b(evidence_world: dict, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("summary")
    done = render(evidence_world, "lab-b", out / "lab-b.html", "--json", str(out / "lab-b.json"))
    assert done.returncode == 0, done.stderr
    found = verify_package(evidence_world["packages"]["lab-b"].read_bytes(), evidence_world["trust"])
    return {"html": (out / "lab-b.html").read_text(), "json": json.loads((out / "lab-b.json").read_text()),
            "found": found, "path": out / "lab-b.html", "stdout": done.stdout}


def test_every_figure_is_the_verified_bundles_own(lab_b: dict):
    page, found = keyed(lab_b["html"]), lab_b["found"]
    [bundle] = found.bundles
    rows = [r for r in bundle.result.metrics["rows"] if r["slice"] == "all" and r["category"] != "all"]
    assert rows, "the round's bundle has category rows"
    for row in rows:
        key = f"e{bundle.indices[0]}|{row['category']}"
        rate = row["pass_rate"]
        assert page[f"{key}|pass_rate"] == pct(rate["estimate"])
        assert page[f"{key}|interval"] == f"{pct(rate['low'])} – {pct(rate['high'])}"
        assert page[f"{key}|graded"] == str(row["graded"])
    assert [f["id"] for f in lab_b["json"]["findings"]] == [f"e{bundle.indices[0]}|{r['category']}" for r in rows]
    assert page[f"reply|e{bundle.indices[0]}"] == "We accept the findings." == bundle.result.response
    assert page["checkpoint-size"] == str(found.checkpoint.size) == "7"
    assert page["checkpoint-root"] == found.checkpoint.root.hex()
    assert {k.split("|")[1] for k in page if k.startswith("witness|")} == {"witness-1.example", "witness-2.example"}
    assert "summary of lab-b: 1 finding(s)" in lab_b["stdout"]


def test_rounds_say_who_the_counterpart_was_and_whether_it_countersigned(lab_b: dict):
    rounds = {(r["role"], r["counterpart"]): r for r in lab_b["json"]["rounds"]}
    assert set(rounds) == {("was evaluated", "lab-a"), ("evaluated others", "lab-a")}
    evaluated, evaluating = rounds[("was evaluated", "lab-a")], rounds[("evaluated others", "lab-a")]
    assert (evaluated["index"], evaluated["countersigned"], evaluated["date"]) == (1, True, "2026-11-24")
    assert (evaluating["index"], evaluating["countersigned"]) == (3, False)  # lab-a never countersigned it
    page = keyed(lab_b["html"])
    assert page["round|1|countersigned"] == "countersigned" and page["round|3|countersigned"] == "not countersigned"


def test_the_questions_table_lists_every_question_covered_or_not(lab_b: dict):
    ids = [q["id"] for q in yaml.safe_load(QUESTIONS.read_text())["questions"]]
    assert len(ids) == len(set(ids)) >= 5
    page = keyed(lab_b["html"])
    states = {k.split("|", 1)[1]: v for k, v in page.items() if k.startswith("question|")}
    assert list(states) == ids  # all of them, in the file's order
    # lab-b's record: evaluated by another lab, with public samples; only the smoke suite ran, so no safety category
    assert states["gpai-ss-a3.5-external"] == "covered" and states["gpai-ss-m7.3-samples"] == "covered"
    for q in ("gpai-ss-m3.2-evaluations", "gpai-ss-m5.1-adversarial", "gpai-ss-m7.1-specification",
              "gpai-ss-a1.4-loss-of-control", "nist-600-1-confabulation"):
        assert states[q] == "not covered", q
    for q in load_questions():
        assert q.document and q.section  # every question names its source document and section


def test_a_finding_in_a_mapped_category_answers_its_question(evidence_world: dict):
    """The mapping follows the data file: name smoke as the category that answers a question, and it is covered."""
    found = verify_package(evidence_world["packages"]["lab-b"].read_bytes(), evidence_world["trust"])
    [q, *_] = load_questions()
    mapped = replace(q, categories=("smoke",))
    summary = build_summary(found, "2026-01-01T00:00:00Z", (mapped,))
    [row] = summary["questions"]
    assert row["covered"] and row["findings"] == [f"e{found.bundles[0].indices[0]}|smoke"]
    assert 'href="#f-e1-smoke"' in render_summary_html(summary)


def test_lab_c_shows_its_decline_and_its_round_under_another_protocol(evidence_world: dict, tmp_path: Path):
    out = tmp_path / "lab-c.html"
    done = render(evidence_world, "lab-c", out, "--json", str(tmp_path / "lab-c.json"))
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "lab-c.json").read_text())
    [decline] = data["declines"]
    assert (decline["index"], decline["reason"], decline["title"]) == (4, "Not this round.", "A, B and C")
    assert keyed(out.read_text())["decline|4"] == "Not this round."
    assert [(r["role"], r["counterpart"], r["round"], r["countersigned"]) for r in data["rounds"]] == \
        [("was evaluated", "lab-a", 2, False)]
    assert data["replies"] == []


def test_a_package_that_does_not_verify_is_refused_and_nothing_is_written(evidence_world: dict, tmp_path: Path):
    decoded = decode_package(evidence_world["packages"]["lab-b"].read_bytes())
    dropped = tmp_path / "dropped.evidence"  # lab-b leaves out its countersignature entry
    dropped.write_bytes(encode_package(replace(decoded, entries=tuple(e for e in decoded.entries if e.index != 2))))
    flipped = tmp_path / "flipped.evidence"
    data = bytearray(evidence_world["packages"]["lab-b"].read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    for bad in (dropped, flipped):
        out = tmp_path / f"{bad.stem}.html"
        done = run_cli("evidence", "render", str(bad), "--out", str(out), *trust_args(evidence_world))
        assert done.returncode == 1, done.stdout
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "verification failed, nothing rendered" in done.stderr and not out.exists()
    with pytest.raises(EvidenceError):
        verify_package(dropped.read_bytes(), evidence_world["trust"])
    out = tmp_path / "untrusted.html"  # a witness the reader does not trust counts for nothing
    stranger = run_cli("evidence", "render", str(evidence_world["packages"]["lab-b"]), "--out", str(out),
                       "--log-key", evidence_world["log_key"], "--witness-key",
                       WitnessKey.generate("witness-9.example").verifier_key())
    assert stranger.returncode == 1 and "0 cosignature(s) from trusted witnesses" in stranger.stderr
    assert not out.exists()


def test_bad_input_is_one_line(evidence_world: dict, tmp_path: Path):
    out = tmp_path / "x.html"
    missing = run_cli("evidence", "render", str(tmp_path / "nope"), "--out", str(out), *trust_args(evidence_world))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "cannot be read" in missing.stderr
    bad_key = run_cli("evidence", "render", str(evidence_world["packages"]["lab-b"]), "--out", str(out),
                      "--log-key", "lab+zz+AAAA")
    assert bad_key.returncode == 2 and bad_key.stderr.count("\n") == 1 and "--log-key" in bad_key.stderr
    too_many = run_cli("evidence", "render", str(evidence_world["packages"]["lab-b"]), "--out", str(out),
                       "--log-key", evidence_world["log_key"], "--min-witnesses", "1")
    assert too_many.returncode == 2 and "can never be met" in too_many.stderr
    into_dir = run_cli("evidence", "render", str(evidence_world["packages"]["lab-b"]), "--out", str(tmp_path),
                       *trust_args(evidence_world))
    assert into_dir.returncode == 2 and "is a directory" in into_dir.stderr
    assert not out.exists()


@pytest.mark.parametrize("text, problem", [
    ("format: other/1\nquestions: []\n", "not a crosslab-buyer-questions/1 file"),
    ("format: crosslab-buyer-questions/1\nquestions:\n  - id: x\n", "question 1 needs id, question"),
    ("format: crosslab-buyer-questions/1\nquestions:\n  - {id: x, question: q, source: {document: d, section: s}, "
     "answered_by: {record: [bribes]}}\n", "unknown record fact 'bribes'"),
    ("format: crosslab-buyer-questions/1\nquestions:\n  - {id: x, question: q, source: {document: d, section: s}}\n",
     "answered_by names nothing"),
    ("format: crosslab-buyer-questions/1\nquestions:\n" + "  - {id: x, question: q, source: {document: d, section: s},"
     " answered_by: {categories: [jailbreak]}}\n" * 2, "question id x twice"),
    ("{[", "cannot be read"),
])
def test_a_malformed_questions_file_is_one_clear_error(tmp_path: Path, text: str, problem: str):
    path = tmp_path / "q.yaml"
    path.write_text(text)
    with pytest.raises(EvidenceError) as caught:
        load_questions(path)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_the_summary_in_chromium(lab_b: dict):
    if chromium_path() is None:
        pytest.fail("Chromium is not installed (CI installs Debian's chromium)")
    page = load_page(lab_b["path"], tab_through=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "evidence-summary.png").write_bytes(page.screenshot)
    assert page.screenshot.startswith(b"\x89PNG")
    assert page.errors == [], page.errors
    assert page.requests == [], page.requests  # one self-contained file: nothing fetched
    assert page.links and set(page.links) <= set(page.focused), set(page.links) - set(page.focused)
    data = lab_b["json"]
    for f in data["findings"]:
        assert page.keyed[f"{f['id']}|pass_rate"] == pct(f["pass_rate"])
        assert page.keyed[f"{f['id']}|interval"] == f"{pct(f['low'])} – {pct(f['high'])}"
    for q in data["questions"]:
        assert page.keyed[f"question|{q['id']}"] == ("covered" if q["covered"] else "not covered")
    assert page.keyed == keyed(lab_b["html"])  # the browser reads what the parser read
