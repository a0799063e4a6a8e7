"""`crosslab export results BUNDLE --format eee|csv`: a verified bundle's metrics for other tools.

Two real bundles, made through the CLI: lab-a on lab-b (the smoke round), and
lab-a on its own deployment under a protocol that allows self-evaluation and
names a judge, pinning the hallucination suite (which has suite metrics). The
EEE record is checked for every field the Every Eval Ever schema 0.3.0
requires and each number is compared with what the verifier itself
returns; the CSV is read back with Python's csv module.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import run_cli
from tests.support.smoke_round import PROTOCOL, run_and_bundle, signed_protocol, smoke_round

from crosslab.bundle.installed import installed_contents, installed_definitions
from crosslab.bundle.verify import verify_bundle
from crosslab.cli.bundle_cmd import pinned_identities
from crosslab.interop.results_export import CSV_COLUMNS, csv_text
from crosslab.interop.verified import verify_copy
from crosslab.protocol.rounds import agreed_deployment
from crosslab.protocol.schema import Protocol
from crosslab.suites.registry import get_suite

#: What the Every Eval Ever results schema 0.3.0 requires (evaleval/every_eval_ever, every_eval_ever/schemas/
#: eval.schema.json), restated here by us: the required fields at each level and the relationship values.
EEE_REQUIRED = ("schema_version", "evaluation_id", "retrieved_timestamp", "source_metadata", "model_info",
                "eval_library", "evaluation_results")
EEE_SOURCE_REQUIRED = ("source_type", "source_organization_name", "evaluator_relationship")
EEE_RESULT_REQUIRED = ("evaluation_name", "source_data", "metric_config", "score_details")
EEE_RELATIONSHIPS = ("first_party", "third_party", "collaborative", "other")


def check_eee_shape(record: dict[str, Any]) -> None:
    """The record has every field the schema requires, of the kind it requires."""
    assert record["schema_version"] == "0.3.0"
    assert all(k in record for k in EEE_REQUIRED), [k for k in EEE_REQUIRED if k not in record]
    source = record["source_metadata"]
    assert all(isinstance(source[k], str) for k in EEE_SOURCE_REQUIRED)
    assert source["evaluator_relationship"] in EEE_RELATIONSHIPS
    assert isinstance(record["model_info"], dict) and isinstance(record["eval_library"]["version"], str)
    for result in record["evaluation_results"]:
        assert all(k in result for k in EEE_RESULT_REQUIRED)
        assert isinstance(result["metric_config"]["lower_is_better"], bool)
        assert isinstance(result["score_details"]["score"], (int, float))


JUDGE = {"target": {"provider": "openai", "model": "judge-x", "base_url": "http://127.0.0.1:9/v1"}, "mode": "both"}


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    made = smoke_round(tmp_path_factory.mktemp("results"))
    root, env = made["root"], made["env"]
    spec = {**PROTOCOL, "title": "A evaluates itself", "allow_self_evaluation": True, "judge": JUDGE,
            "suites": [{"name": "hallucination", "digest": get_suite("hallucination").content_digest()}]}
    protocol = signed_protocol(root / "self.yaml", spec, env)
    _, bundle = run_and_bundle(root, env, protocol, suite="hallucination", target="baseline:refuse-all",
                               evaluated="lab-a", deployment="a-prod", runs="self-runs", out="self-bundle")
    return {**made, "self_bundle": bundle}


def export(rounds: dict[str, Any], bundle: Path, fmt: str, out: Path) -> Any:
    result = run_cli("export", "results", str(bundle), "--format", fmt, "--keys", str(rounds["keys"]),
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    return result


def verified(rounds: dict[str, Any], bundle: Path):
    """The verifier's own result, called directly (not through the exporter)."""
    return verify_bundle(bundle, pinned_identities(rounds["keys"]), metric_definitions=installed_definitions(),
                         pinned_contents=installed_contents)


def stubs(bundle: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (bundle / "items.jsonl").read_bytes().splitlines()]


def tier_counts(bundle: Path, category: str, slice_: str) -> dict[str, int]:
    chosen = [s for s in stubs(bundle) if category in ("all", s["category"]) and slice_ in ("all", s["slice"])]
    return {t: sum(s["tier"] == t for s in chosen) for t in ("public", "restricted", "withheld")}


def check_against_verifier(record: dict[str, Any], report: Any, bundle: Path) -> None:
    check_eee_shape(record)
    rates = [r for r in report.metrics["rows"] if r["pass_rate"] is not None]
    results = {(d["category"], d["slice"]): r for r in record["evaluation_results"]
               for d in [r["metric_config"]["additional_details"]]}
    assert len(results) == len(record["evaluation_results"]) == len(rates) > 0
    for row in rates:
        got = results[(row["category"], row["slice"])]
        rate = row["pass_rate"]
        assert got["score_details"]["score"] == rate["estimate"]
        assert got["score_details"]["uncertainty"] == {"confidence_interval": {
            "lower": rate["low"], "upper": rate["high"], "confidence_level": rate["level"], "method": rate["method"]},
            "num_samples": row["graded"]}
        details = got["score_details"]["details"]
        assert {k: int(details[k]) for k in ("samples", "errors", "graded", "passed")} == \
            {k: row[k] for k in ("samples", "errors", "graded", "passed")}
        tiers = {t: int(details[f"tier_{t}"]) for t in ("public", "restricted", "withheld")}
        assert tiers == tier_counts(bundle, row["category"], row["slice"])
        assert sum(tiers.values()) == row["samples"]
        assert got["metric_config"]["lower_is_better"] is False
    meta = record["source_metadata"]
    assert meta["source_type"] == "evaluation_run"
    assert meta["additional_details"]["protocol_id"] == report.protocol_id
    assert meta["additional_details"]["round"] == str(report.round["number"])
    assert {t: int(meta["additional_details"][f"stubs_{t}"]) for t in report.by_tier} == report.by_tier
    assert int(meta["additional_details"]["suite_metric_rows_not_carried"]) == \
        sum(len(rows) for rows in report.metrics["suites"].values())
    assert record["eval_library"] == {"name": "crosslab", "version": report.crosslab_version}
    protocol = Protocol.model_validate(orjson.loads((bundle / "protocol.json").read_bytes()))
    deployment = agreed_deployment(protocol, report.evaluated, report.deployment)
    model = record["model_info"]
    assert (model["id"], model["name"]) == (f"{deployment.provider}/{deployment.model}", deployment.model)
    assert model["additional_details"]["crosslab_deployment_digest"] == deployment.digest
    assert model["additional_details"]["crosslab_lab"] == report.evaluated
    for got in record["evaluation_results"]:
        assert got["generation_config"]["generation_args"] == {
            "temperature": deployment.temperature, "top_p": deployment.top_p, "max_tokens": deployment.max_tokens}


def test_eee_cross_lab_validates_and_equals_the_verifier(rounds: dict[str, Any], tmp_path: Path):
    out = tmp_path / "results.json"
    export(rounds, rounds["bundle"], "eee", out)
    record = json.loads(out.read_text())
    report = verified(rounds, rounds["bundle"])
    check_against_verifier(record, report, rounds["bundle"])
    assert (report.evaluator, report.evaluated, report.self_evaluation) == ("lab-a", "lab-b", False)
    assert record["source_metadata"]["evaluator_relationship"] == "third_party"
    assert record["source_metadata"]["source_organization_name"] == "LAB-A"
    assert record["model_info"]["id"] == "baseline/comply-all" and record["model_info"]["developer"] == "LAB-B"
    assert not any(k.startswith("judge_") for r in record["evaluation_results"]
                   for k in r["metric_config"]["additional_details"])  # the protocol names no judge


def test_eee_self_evaluation_is_first_party_with_the_judge(rounds: dict[str, Any], tmp_path: Path):
    out = tmp_path / "self.json"
    export(rounds, rounds["self_bundle"], "eee", out)
    record = json.loads(out.read_text())
    report = verified(rounds, rounds["self_bundle"])
    check_against_verifier(record, report, rounds["self_bundle"])
    assert report.self_evaluation and report.metrics["suites"]  # hallucination has suite rows: counted, not carried
    assert record["source_metadata"]["evaluator_relationship"] == "first_party"
    assert record["model_info"]["id"] == "baseline/refuse-all"
    for result in record["evaluation_results"]:
        details = result["metric_config"]["additional_details"]
        assert (details["judge_model"], details["judge_mode"], details["judge_temperature"]) == \
            ("openai/judge-x", "both", "0.0")
        assert details["judge_base_url"] == JUDGE["target"]["base_url"]


def read_csv(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")  # RFC 4180 line ends
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""), strict=True)
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


def number(cell: str) -> float | None:
    return None if cell == "" else float(cell)


@pytest.mark.parametrize("which", ["bundle", "self_bundle"])
def test_csv_round_trips_every_metric_row(rounds: dict[str, Any], tmp_path: Path, which: str):
    bundle = rounds[which]
    out = tmp_path / "results.csv"
    export(rounds, bundle, "csv", out)
    rows = read_csv(out)
    report = verified(rounds, bundle)
    expected = [("", r["category"], "pass_rate", r["slice"], r["pass_rate"], r["graded"], r["passed"])
                for r in report.metrics["rows"]]
    suites = {c.category: c.suite for c in report.suite_metrics}
    for category, suite_rows in sorted(report.metrics["suites"].items()):
        for r in suite_rows:
            group = r["group"]
            cell = "all" if not group else group["slice"] if set(group) == {"slice"} else \
                ";".join(f"{k}={v}" for k, v in sorted(group.items()))
            expected.append((suites[category], category, r["metric"], cell,
                             {"estimate": r["estimate"], "low": r["low"], "high": r["high"],
                              "level": r.get("level"), "method": r["method"]}, r["n"], r.get("k")))
    assert len(rows) == len(expected) > 0
    for got, (suite, category, metric, cell, rate, n, k) in zip(rows, expected, strict=True):
        assert (got["direction"], got["round"]) == (
            f"{report.evaluator}->{report.evaluated}/{report.deployment}", str(report.round["number"]))
        assert (got["suite"], got["category"], got["metric"], got["slice"]) == (suite, category, metric, cell)
        rate = rate or {}
        assert number(got["value"]) == rate.get("estimate")
        assert (number(got["low"]), number(got["high"])) == (rate.get("low"), rate.get("high"))
        assert number(got["level"]) == rate.get("level")
        assert got["method"] == (rate.get("method") or "")
        assert (int(got["n"]), number(got["k"])) == (n, k)
        if not suite:
            tiers = {t: int(got[f"tier_{t}"]) for t in ("public", "restricted", "withheld")}
            assert tiers == tier_counts(bundle, category, cell)
    if which == "self_bundle":
        assert any(r["suite"] == "hallucination" for r in rows)


def test_csv_quotes_commas_quotes_and_line_breaks(rounds: dict[str, Any]):
    """RFC 4180 quoting, on a real verified bundle whose direction names are made awkward."""
    real = verify_copy(rounds["bundle"], pinned_identities(rounds["keys"]))
    odd = 'lab "b",\nsecond line'
    bundle = dataclasses.replace(real, result=dataclasses.replace(real.result, evaluated=odd))
    text = csv_text(bundle)
    assert '"lab ""b"",\nsecond line"' in text
    rows = list(csv.DictReader(io.StringIO(text, newline=""), strict=True))
    assert {r["evaluated"] for r in rows} == {odd}
    assert len(rows) == len(real.result.metrics["rows"])


def tampered(rounds: dict[str, Any], tmp_path: Path) -> Path:
    bundle = tmp_path / "tampered"
    shutil.copytree(rounds["bundle"], bundle)
    lines = (bundle / "items.jsonl").read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"label":"fail"', b'"label":"pass"', 1)
    assert lines[0] != (rounds["bundle"] / "items.jsonl").read_bytes().splitlines(keepends=True)[0]
    (bundle / "items.jsonl").write_bytes(b"".join(lines))
    return bundle


@pytest.mark.parametrize("fmt", ["eee", "csv"])
def test_a_tampered_bundle_is_refused_and_nothing_is_written(rounds: dict[str, Any], tmp_path: Path, fmt: str):
    out = tmp_path / f"out.{fmt}"
    bad = tampered(rounds, tmp_path)
    result = run_cli("export", "results", str(bad), "--format", fmt, "--keys", str(rounds["keys"]),
                     "--out", str(out))
    assert result.returncode == 1
    assert "verification failed, nothing exported" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists() and result.stdout == ""
    to_stdout = run_cli("export", "results", str(bad), "--format", fmt, "--keys", str(rounds["keys"]))
    assert to_stdout.returncode == 1 and to_stdout.stdout == ""


def test_keys_from_another_lab_are_refused(rounds: dict[str, Any], tmp_path: Path):
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    shutil.copy(rounds["all_keys"] / "lab-c.identity.json", wrong)
    out = tmp_path / "out.json"
    result = run_cli("export", "results", str(rounds["bundle"]), "--format", "eee", "--keys", str(wrong),
                     "--out", str(out))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("args, needle", [
    (["--format", "xlsx"], "--format must be one of eee, csv, not 'xlsx'"),
    (["--format", "eee"], "needs --keys"),
])
def test_bad_options_are_one_line_exit_2(rounds: dict[str, Any], tmp_path: Path, args: list[str], needle: str):
    out = tmp_path / "out"
    keys = ["--keys", str(rounds["keys"])] if "xlsx" in args else []
    result = run_cli("export", "results", str(rounds["bundle"]), *args, *keys, "--out", str(out))
    assert result.returncode == 2
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_stdout_export_equals_the_file(rounds: dict[str, Any], tmp_path: Path):
    out = tmp_path / "r.csv"
    export(rounds, rounds["bundle"], "csv", out)
    printed = run_cli("export", "results", str(rounds["bundle"]), "--format", "csv", "--keys", str(rounds["keys"]))
    assert printed.returncode == 0 and printed.stdout.encode() == out.read_bytes().replace(b"\r\n", b"\n")
