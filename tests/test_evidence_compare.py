"""Two vendors side by side, from their verified evidence packages and from the registry's page.

lab-a and lab-b were evaluated under the same protocol on the same smoke
items: they get a paired comparison whose numbers are checked here against
``stats.paired`` computed directly from the bundles' stubs. lab-c was
evaluated on the same items under another protocol: no comparison, and the
reason says so. The registry's ``/compare`` page and ``/api/v1/compare``
show what ``crosslab evidence compare`` computes.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from conftest import REPO, run_cli

from crosslab.evidence import verify_package
from crosslab.evidence.compare import compare_evidence
from crosslab.report.render import num, pct, signed
from crosslab.stats.paired import paired_binary
from tests.support.browser import chromium_path, load_page
from tests.support.evidence_world import evidence_world, trust_args  # noqa: F401 - a session fixture

ARTIFACTS = Path(os.environ.get("CROSSLAB_ARTIFACTS", REPO / "artifacts")) / "screenshots"


def _found(world: dict, lab: str):
    return verify_package(world["packages"][lab].read_bytes(), world["trust"])


def _scores(found, category: str) -> list[float]:
    [bundle] = found.bundles
    stubs = [orjson.loads(line) for line in bundle.files["items.jsonl"].splitlines()]
    return [s["score"] for s in stubs if s["category"] == category]


def _cli(world: dict, a: str, b: str, *extra: str):
    return run_cli("evidence", "compare", str(world["packages"][a]), str(world["packages"][b]),
                   *trust_args(world), *extra)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_same_protocol_and_items_get_a_paired_comparison_matching_stats(evidence_world: dict):
    a, b = _found(evidence_world, "lab-a"), _found(evidence_world, "lab-b")
    data = compare_evidence(a, b)
    [row] = data["categories"]
    assert row["category"] == "smoke" and row["compared"] and row["reason"] is None
    assert row["paired"]["protocol_id"] == a.bundles[0].protocol_id == b.bundles[0].protocol_id
    sa, sb = _scores(a, "smoke"), _scores(b, "smoke")
    assert len(sa) == len(sb) > 1 and set(sa) | set(sb) <= {0.0, 1.0}  # one binary outcome per item
    direct = paired_binary([x == 1.0 for x in sa], [y == 1.0 for y in sb])
    overall = row["paired"]["overall"]
    assert overall["n_pairs"] == direct.n_pairs == len(sa)
    for field in ("estimate", "low", "high", "p_value", "method"):
        assert overall["difference"][field] == getattr(direct, field), field
    assert overall["p_adjusted"] == pytest.approx(direct.p_value)  # one row in the category: Holm leaves it
    # each side's own figures are the verified pass-rate rows
    for side, found in (("a", a), ("b", b)):
        [rate] = [r["pass_rate"] for r in found.bundles[0].result.metrics["rows"]
                  if r["category"] == "smoke" and r["slice"] == "all"]
        assert (row[side]["pass_rate"], row[side]["low"], row[side]["high"]) == \
            (rate["estimate"], rate["low"], rate["high"])
    assert data["compared"] == ["smoke"] and data["not_compared"] == []


def test_another_protocol_is_not_compared_and_says_why(evidence_world: dict):
    b, c = _found(evidence_world, "lab-b"), _found(evidence_world, "lab-c")
    [row] = compare_evidence(b, c)["categories"]
    assert not row["compared"] and row["paired"] is None
    assert row["reason"].startswith("different protocol: lab-b under protocol "), row["reason"]
    assert "lab-c under protocol " in row["reason"] and "the suite items are the same" in row["reason"]
    assert row["a"]["pass_rate"] is not None and row["b"]["pass_rate"] is not None  # shown, not compared


def test_a_category_missing_on_one_side_says_so(evidence_world: dict):
    b, c = _found(evidence_world, "lab-b"), _found(evidence_world, "lab-c")
    without = replace(c, bundles=())  # lab-c's record as it stood before lab-a's bundle about it
    [row] = compare_evidence(b, without)["categories"]
    assert not row["compared"] and row["b"] is None
    assert row["reason"] == ("category missing on one side: lab-c has no published, verified finding in smoke "
                             "(only lab-b was evaluated on it)")


def test_the_cli_prints_writes_and_agrees_with_the_api(evidence_world: dict, tmp_path: Path):
    out = tmp_path / "a-vs-b.html"
    done = _cli(evidence_world, "lab-a", "lab-b", "--json", "--out", str(out))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    expected = compare_evidence(_found(evidence_world, "lab-a"), _found(evidence_world, "lab-b"))
    assert data["categories"] == json.loads(json.dumps(expected["categories"]))
    assert out.read_text().startswith("<!DOCTYPE html>")
    lines = _cli(evidence_world, "lab-b", "lab-c")
    assert lines.returncode == 0, lines.stderr
    assert "lab-b vs lab-c: 0 categor(ies) compared, 1 not compared" in lines.stdout
    assert "smoke: " in lines.stdout and "not compared: different protocol" in lines.stdout
    status, body = _get(f"{evidence_world['server'].url}/api/v1/compare?a=lab-a&b=lab-b")
    assert status == 200, body
    assert json.loads(body)["categories"] == data["categories"]  # the registry's page computes the same


def test_cli_bad_input_is_one_line_and_writes_nothing(evidence_world: dict, tmp_path: Path):
    out = tmp_path / "never.html"
    good = str(evidence_world["packages"]["lab-a"])
    missing = run_cli("evidence", "compare", good, str(tmp_path / "nope"), *trust_args(evidence_world),
                      "--out", str(out))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "cannot be read" in missing.stderr
    bad_key = run_cli("evidence", "compare", good, good, "--log-key", "nonsense")
    assert bad_key.returncode == 2 and bad_key.stderr.count("\n") == 1 and "--log-key" in bad_key.stderr
    garbage = tmp_path / "garbage.evidence"
    garbage.write_bytes(b'{"format":"crosslab-evidence/1"')
    broken = run_cli("evidence", "compare", good, str(garbage), *trust_args(evidence_world), "--out", str(out))
    assert broken.returncode == 1 and broken.stderr.count("\n") == 1 and "Traceback" not in broken.stderr
    assert "verification failed, nothing rendered" in broken.stderr and not out.exists()
    no_args = run_cli("evidence", "compare", good)
    assert no_args.returncode == 2 and "Traceback" not in no_args.stderr


def test_the_registry_says_plainly_what_it_cannot_compare(evidence_world: dict):
    server = evidence_world["server"].url
    status, body = _get(f"{server}/api/v1/compare?a=lab-a&b=lab-z")
    assert status == 404 and json.loads(body) == {"detail": "no lab lab-z in the log"}
    status, body = _get(f"{server}/compare?a=lab-a&b=lab-z")
    assert status == 404 and b"no lab lab-z in the log" in body
    status, body = _get(f"{server}/compare")
    assert status == 200 and b'<form method="get" action="/compare">' in body


def _expected_keys(data: dict) -> dict[str, str]:
    keys = {"vendor-a": data["a"]["vendor"], "vendor-b": data["b"]["vendor"],
            "compared": ", ".join(data["compared"]) or "none",
            "not-compared": ", ".join(data["not_compared"]) or "none"}
    for r in data["categories"]:
        for side in ("a", "b"):
            if r[side]:
                keys[f"{r['category']}|{side}|pass_rate"] = pct(r[side]["pass_rate"])
        if r["compared"]:
            o = r["paired"]["overall"]
            keys[f"{r['category']}|difference"] = signed(o["difference"]["estimate"])
            keys[f"{r['category']}|interval"] = f"{signed(o['difference']['low'])} – {signed(o['difference']['high'])}"
            keys[f"{r['category']}|p_adjusted"] = num(o["p_adjusted"])
            keys[f"{r['category']}|verdict"] = o["verdict"]
        else:
            keys[f"{r['category']}|reason"] = r["reason"]
    return keys


@pytest.mark.parametrize("a, b", [("lab-a", "lab-b"), ("lab-b", "lab-c")])
def test_the_registry_page_in_chromium(evidence_world: dict, a: str, b: str):
    if chromium_path() is None:
        pytest.fail("Chromium is not installed (CI installs Debian's chromium)")
    server = evidence_world["server"].url
    _, body = _get(f"{server}/api/v1/compare?a={a}&b={b}")
    data = json.loads(body)
    page = load_page(f"{server}/compare?a={a}&b={b}", tab_through=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"registry-compare-{a}-{b}.png").write_bytes(page.screenshot)
    assert page.screenshot.startswith(b"\x89PNG")
    assert page.errors == [], page.errors
    assert all(u.startswith(server) for u in page.requests), page.requests
    assert page.links and set(page.links) <= set(page.focused), set(page.links) - set(page.focused)
    assert page.keyed == _expected_keys(data)
    assert f"{server}/api/v1/compare?a={a}&b={b}" in page.links


def test_the_cli_page_in_chromium(evidence_world: dict, tmp_path: Path):
    if chromium_path() is None:
        pytest.fail("Chromium is not installed (CI installs Debian's chromium)")
    out = tmp_path / "a-vs-b.html"
    done = _cli(evidence_world, "lab-a", "lab-b", "--json", "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = load_page(out)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "evidence-compare.png").write_bytes(page.screenshot)
    assert page.errors == [] and page.requests == [], (page.errors, page.requests)
    assert page.keyed == _expected_keys(json.loads(done.stdout))
