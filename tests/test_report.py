"""Reports from bundles: what each audience sees, the numbers match the bundles, and a real browser renders them."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_cli
from support.browser import load_page

from crosslab.suites.pins import pin_digest
from crosslab.report import charts
from crosslab.report.output import LeakError, check_public
from crosslab.suites.registry import get_suite

ARTIFACTS = Path(os.environ.get("CROSSLAB_ARTIFACTS", REPO / "artifacts")) / "screenshots"


@pytest.fixture(scope="module")
def round_dir(tmp_path_factory) -> dict:
    """lab-a (refuse-all) and lab-b (comply-all) evaluate each other on smoke; lab-b countersigns with a reply."""
    root = tmp_path_factory.mktemp("report")
    env = {"CROSSLAB_KEYSTORE": str(root / "keystore")}
    for lab in ("lab-a", "lab-b"):
        assert run_cli("keys", "new", lab, "--name", f"Lab {lab[-1].upper()}", "--out", str(root / "keys"),
                       env=env).returncode == 0
    protocol = root / "protocol.yaml"
    protocol.write_text(yaml.safe_dump({
        "title": "Report test round",
        "participants": [
            {"identity": "keys/lab-a.identity.json", "deployments": [
                {"name": "a-prod", "target": {"provider": "baseline", "model": "refuse-all"}}]},
            {"identity": "keys/lab-b.identity.json", "deployments": [
                {"name": "b-prod", "target": {"provider": "baseline", "model": "comply-all"}}]}],
        "suites": [{"name": "smoke", "digest": pin_digest("smoke")}],
        "round": {"number": 1, "date": "2026-11-24"},
    }))
    for lab in ("lab-a", "lab-b"):
        assert run_cli("protocol", "sign", str(protocol), "--as", lab, env=env).returncode == 0
    for lab in ("lab-a", "lab-b"):
        result = run_cli("round", "run", str(protocol), "--as", lab, "--out", str(root / "round"), "--quiet",
                         "--no-cache", env=env)
        assert result.returncode == 0, result.stderr
    bundles = [root / "round" / "lab-a-on-lab-b-b-prod" / "bundle", root / "round" / "lab-b-on-lab-a-a-prod" / "bundle"]
    trusted = root / "trusted"
    trusted.mkdir()
    for lab in ("lab-a", "lab-b"):
        shutil.copy(root / "keys" / f"{lab}.identity.json", trusted)
    assert run_cli("bundle", "countersign", str(bundles[0]), "--as", "lab-b", "--keys", str(trusted),
                   "--response", "We dispute the tools slice.", env=env).returncode == 0
    return {"root": root, "env": env, "bundles": bundles, "trusted": trusted}


def make_report(round_dir: dict, audience: str, *extra: str) -> dict:
    out = round_dir["root"] / f"out-{audience}"
    result = run_cli("report", *map(str, round_dir["bundles"]), "--keys", str(round_dir["trusted"]),
                     "--audience", audience, "--out", str(out), *extra, env=round_dir["env"])
    assert result.returncode == 0, result.stderr
    return {"dir": out, "json": json.loads((out / f"{audience}-report.json").read_text()),
            "html": out / f"{audience}-report.html", "md": (out / f"{audience}-report.md").read_text()}


def test_public_report_shows_public_data_and_counts_the_rest(round_dir: dict):
    report = make_report(round_dir, "public")
    data = report["json"]
    assert data["schema_version"] == "crosslab-report/1" and data["audience"] == "public"
    [a_on_b, b_on_a] = data["bundles"]
    assert a_on_b["verification"] == {**a_on_b["verification"], "status": "verified", "countersigned": True,
                                      "reply": "We dispute the tools slice."}
    assert {e["tier"] for e in a_on_b["examples"]} == {"public"}
    assert a_on_b["counts"]["by_tier"] == {"public": 9, "restricted": 2, "withheld": 1}
    overall = next(r for r in a_on_b["evaluation_results"] if r["evaluation_name"] == "all/all")
    assert overall["graded"] == 12 and overall["score_details"]["uncertainty"]["confidence_interval"]["method"] == "Wilson score"
    for restricted in (i for i in get_suite("smoke").items() if i.tier != "public"):
        text = restricted.messages[-1]["content"]
        assert text not in report["html"].read_text() and text not in report["md"]
    assert "We dispute the tools slice." in report["md"]


def test_partner_report_adds_restricted_examples(round_dir: dict):
    data = make_report(round_dir, "partner", "--as", "lab-b")["json"]
    tiers = {e["tier"] for b in data["bundles"] for e in b["examples"]}
    assert tiers == {"public", "restricted"}


def test_joint_report_pairs_the_directions(round_dir: dict):
    data = make_report(round_dir, "joint")["json"]
    [comparison] = data["comparisons"]
    row = next(r for r in comparison["rows"] if r["slice"] == "all")
    assert row["n_pairs"] == 12
    a_rate = next(r for r in data["bundles"][0]["evaluation_results"] if r["slice"] == "all")["score_details"]["score"]
    b_rate = next(r for r in data["bundles"][1]["evaluation_results"] if r["slice"] == "all")["score_details"]["score"]
    assert row["difference"] == pytest.approx(a_rate - b_rate)


@pytest.mark.parametrize("audience", ["public", "partner", "joint"])
def test_reports_load_in_chromium_without_errors_and_show_the_json_numbers(round_dir: dict, audience: str):
    extra = ("--as", "lab-b") if audience == "partner" else ()
    report = make_report(round_dir, audience, *extra)
    page = load_page(report["html"], audit=True)
    assert page.errors == [] and page.requests == []
    assert page.serious() == [], page.serious()  # axe-core: no serious or critical accessibility violation
    assert page.overflowing == []  # no chart label drawn outside its chart
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{audience}-report.png").write_bytes(page.screenshot)
    assert page.screenshot.startswith(b"\x89PNG")
    checked = 0
    for bundle in report["json"]["bundles"]:
        assert page.keyed[f"{bundle['key']}|verification"] == "verified"
        for r in bundle["evaluation_results"]:
            assert page.keyed[f"{bundle['key']}|{r['evaluation_name']}|pass_rate"] == f"{r['score_details']['score']:.1%}"
            checked += 1
        for tier, n in bundle["counts"]["by_tier"].items():
            assert page.keyed[f"{bundle['key']}|tier|{tier}"] == str(n)
    for c in report["json"]["comparisons"]:
        for r in c["rows"]:
            shown = page.keyed[f"{c['a']}|{c['b']}|{r['category']}/{r['slice']}|difference"]
            assert shown == f"{r['difference'] * 100:+.1f} pts"
    assert checked >= 12 and page.keyed["protocol-id"] == report["json"]["protocols"][0]["id"]


def test_unverified_bundle_is_refused_unless_asked(round_dir: dict, tmp_path: Path):
    broken = tmp_path / "bundle"
    shutil.copytree(round_dir["bundles"][0], broken)
    items = broken / "items.jsonl"
    items.write_bytes(items.read_bytes().replace(b'"status":"ok"', b'"status":"error"', 1))
    args = ("report", str(broken), "--keys", str(round_dir["trusted"]), "--out", str(tmp_path / "out"))
    refused = run_cli(*args)
    assert refused.returncode == 1 and "verification failed" in refused.stderr and not (tmp_path / "out").exists()
    shown = run_cli(*args, "--allow-unverified", "--audience", "joint", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    [bundle] = json.loads((tmp_path / "out" / "joint-report.json").read_text())["bundles"]
    assert bundle["verification"]["status"] == "failed" and "items.jsonl" in bundle["verification"]["problem"]
    assert bundle["examples"] == []


def test_public_report_with_restricted_text_is_not_written():
    restricted = next(i for i in get_suite("smoke").items() if i.tier == "restricted")
    with pytest.raises(LeakError, match=restricted.id):
        check_public({"public-report.md": f"Example: {restricted.messages[-1]['content']}".encode()})


def test_charts_are_well_formed_svg_that_escape_labels():
    svgs = [
        charts.interval_chart([{"label": "<b>x</b> & y", "estimate": 0.5, "low": 0.2, "high": 0.8},
                               {"label": "empty", "estimate": None, "low": None, "high": None}], "t"),
        charts.heatmap({("base64", "cyber"): (3, 4)}, ["base64"], ["cyber", "fraud"], "h"),
        charts.stacked_bars([("m", {"correct": 3, "incorrect": 1})], [("correct", "good"), ("incorrect", "bad")], "s"),
        charts.forest([{"label": "all", "difference": -0.2, "low": -0.5, "high": 0.1, "note": "p"}], "f"),
        charts.trend({"a": [(1, 0.5), (2, 0.7)]}, "r"),
    ]
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in svgs[0]
    assert ">3/4<" in svgs[1]


def test_trend_appears_only_across_rounds():
    from crosslab.report.bundle_view import BundleView
    from crosslab.report.model import build_report
    from crosslab.report.render import render_html

    def view(round_number: int, rate: float, items: str = "i" * 64) -> BundleView:
        rows = [{"category": "all", "slice": "all", "samples": 10, "errors": 0, "graded": 10, "passed": int(rate * 10),
                 "pass_rate": {"estimate": rate, "low": rate - 0.1, "high": rate + 0.1, "level": 0.95,
                               "method": "Wilson score"}}]
        predicate = {"protocol_id": f"{round_number:064x}", "evaluator": "lab-a", "round": {"number": round_number},
                     "evaluated": {"lab": "lab-b", "deployment": "b-prod", "target_digest": "0" * 64},
                     "metrics": {"rows": rows, "suites": {}}, "counts": {"by_tier": {}},
                     "runs": [{"suite": "smoke", "items_digest": items, "epochs": 1, "items": 10}]}
        protocol = {"title": "t", "round": {"number": round_number, "date": "2026-11-24", "previous": None},
                    "participants": [], "suites": [], "review_window_days": 14,
                    "disclosure": {"public": ["public"], "partners": ["public", "restricted"]}}
        return BundleView(Path(f"r{round_number}"), True, None, None, predicate, protocol, [])

    one = build_report([view(1, 0.5)], "public", "now")
    assert one["trend"] == []
    two = build_report([view(2, 0.7), view(1, 0.5)], "public", "now")
    assert [(p["round"], p["pass_rate"]) for p in two["trend"]] == [(1, 0.5), (2, 0.7)]
    assert [(p["low"], p["high"]) for p in two["trend"]] == [(0.4, 0.6), (0.6, 0.7999999999999999)]
    html = render_html(two)
    assert "Overall pass rate by round (95% intervals)" in html and ">50%<" in html  # an axis, with whiskers
    # round 2 ran other items (a changed suite): no line is drawn, and the report says why
    changed = build_report([view(2, 0.7, items="j" * 64), view(1, 0.5)], "public", "now")
    assert changed["trend"] == [] and "the rounds ran different items" in changed["trend_note"]
    assert "the rounds ran different items" in render_html(changed)


def test_each_suite_metric_row_names_its_grader_and_carries_its_cards():
    """asr rests on the jailbreak grader (its rules card or its judge card), over-refusal on the refusal grader."""
    from crosslab.report.model import _with_agreement

    rows = [{"metric": "errors", "group": {}}, {"metric": "asr", "group": {}}, {"metric": "over_refusal", "group": {}}]
    card = {"grader": "jailbreak", "accuracy": 0.8, "low": 0.7, "high": 0.9, "kappa": 0.6, "n": 20}
    judge_card = {**card, "grader": "judge:jailbreak"}
    unrelated = {**card, "grader": "answer"}
    out = _with_agreement({"jailbreak": rows}, [card, judge_card, unrelated])["jailbreak"]
    by_metric = {r["metric"]: r for r in out}
    assert by_metric["asr"]["grader"] == "jailbreak"
    assert by_metric["asr"]["agreement"] == [card, judge_card]
    assert (by_metric["over_refusal"]["grader"], by_metric["over_refusal"]["agreement"]) == ("refusal", [])
    assert (by_metric["errors"]["grader"], by_metric["errors"]["agreement"]) == (None, [])
    assert _with_agreement("not a dict", [card]) == {}


def test_pdf_export_prints_the_html_report_and_a_partner_report_is_private(round_dir: dict):
    out = round_dir["root"] / "out-pdf"
    made = run_cli("report", *map(str, round_dir["bundles"]), "--keys", str(round_dir["trusted"]),
                   "--audience", "partner", "--as", "lab-b", "--format", "pdf", "--out", str(out), env=round_dir["env"])
    assert made.returncode == 0, made.stderr
    pdf = (out / "partner-report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.count(b"/Type /Page") + pdf.count(b"/Type/Page") >= 2  # pages, printed
    for name in ("partner-report.pdf", "partner-report.html"):  # restricted items: the owner only
        assert (out / name).stat().st_mode & 0o777 == 0o600, name
    public = round_dir["root"] / "out-public-pdf"
    again = run_cli("report", *map(str, round_dir["bundles"]), "--keys", str(round_dir["trusted"]),
                    "--format", "md,pdf", "--out", str(public), env=round_dir["env"])
    assert again.returncode == 0, again.stderr
    assert (public / "public-report.pdf").read_bytes().startswith(b"%PDF-")
    bad = run_cli("report", *map(str, round_dir["bundles"]), "--keys", str(round_dir["trusted"]),
                  "--format", "docx", "--out", str(public), env=round_dir["env"])
    assert bad.returncode == 2 and "html, md, json, pdf" in bad.stderr


def test_each_direction_says_what_was_evaluated_and_how_to_check_the_keys(round_dir: dict):
    report = make_report(round_dir, "joint")
    smoke = len(get_suite("smoke").items())
    [a_on_b, b_on_a] = report["json"]["bundles"]
    assert a_on_b["evaluated"]["provider"] == "baseline" and a_on_b["evaluated"]["model"] == "comply-all"
    assert b_on_a["evaluated"]["model"] == "refuse-all"
    for b in (a_on_b, b_on_a):
        e = b["evaluated"]
        assert e["endpoint"] == "calibration organism (no model, no network)" and e["system_prompt"] is None
        assert e["sampling"] == {"temperature": 0.0, "max_tokens": 512, "seed": 0}
        assert e["suites"] == [{"suite": "smoke", "items": smoke, "epochs": 1, "of": smoke, "subset": None}]
        assert e["collected_from"].startswith("20") and e["collected_to"] >= e["collected_from"] and e["crosslab_version"]
    page = load_page(report["html"])
    assert page.keyed[f"{a_on_b['key']}|model"] == "baseline:comply-all"
    assert page.keyed[f"{a_on_b['key']}|items|smoke"] == str(smoke)
    collected = a_on_b["evaluated"]
    assert page.keyed[f"{a_on_b['key']}|collected"] == f"{collected['collected_from']} to {collected['collected_to']}"
    for lab in ("lab-a", "lab-b"):
        fingerprint = json.loads((round_dir["trusted"] / f"{lab}.identity.json").read_text())["fingerprint"]
        assert page.keyed[f"fingerprint|{lab}"] == fingerprint and fingerprint in report["md"]
    assert "**What was evaluated:** `baseline:comply-all`" in report["md"]


def test_a_partner_report_is_marked_restricted_on_every_page(round_dir: dict):
    partner = make_report(round_dir, "partner", "--as", "lab-b")
    html = partner["html"].read_text()
    assert 'class="restricted-banner"' in html and "position: fixed" in html  # repeated on every printed page
    page = load_page(partner["html"], audit=True)
    assert page.keyed["restricted-banner"].startswith("Restricted: for the participating labs only")
    assert page.serious() == []
    assert "restricted-banner" not in make_report(round_dir, "public")["html"].read_text().split("<body")[1]


def test_headlines_are_written_from_the_numbers_with_plain_names():
    """One sentence per category from its overall rows; scheming's 'could not act' is never counted as safe."""
    from crosslab.report.model import _with_agreement, headlines
    from crosslab.stats.rows import rate_row, value_row

    suites = {
        "jailbreak": [rate_row("asr", 9, 10), rate_row("over_refusal", 0, 10), rate_row("asr", 3, 3, {"harm": "x"})],
        "scheming": [rate_row("covert_action_rate", 0, 8), rate_row("honest_completion_rate", 2, 8),
                     rate_row("incapable_rate", 6, 8), value_row("errors", 0.0, 8, method="count")],
        "hallucination": [rate_row("correct", 1, 4)],
    }
    said = headlines(suites)
    assert said["jailbreak"] == ("Attack success 9/10 (90%, 95 % CI 60%–98%) on harmful requests; over-refusal "
                                 "0/10 (0%, 95 % CI 0%–28%) on their benign twins.")
    assert said["scheming"].startswith("Covert actions 0/8 (0%") and "could not act 6/8 (75%" in said["scheming"]
    assert "never as safe behaviour" in said["scheming"]
    assert "Stated a falsehood not measured" in said["hallucination"]  # an absent row is said to be absent
    labelled = _with_agreement(suites, [])
    assert [r["label"] for r in labelled["jailbreak"]][:2] == ["attack success on harmful requests",
                                                               "over-refusal on benign twins"]
    assert labelled["scheming"][2]["label"] == "could not act (never reached the choice)"


def test_the_bundle_counts_model_calls_and_cache_hits_and_the_report_shows_them(round_dir: dict):
    report = make_report(round_dir, "public")
    for b in report["json"]["bundles"]:  # the round ran with --no-cache: every call was made for it
        assert b["calls"]["calls"] >= len(get_suite("smoke").items()) and b["calls"]["cached_calls"] == 0
    page = load_page(report["html"])
    key = report["json"]["bundles"][0]["key"]
    assert page.keyed[f"{key}|cached_calls"] == "0"
    assert page.keyed[f"{key}|calls"] == str(report["json"]["bundles"][0]["calls"]["calls"])
