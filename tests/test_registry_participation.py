"""The participation matrix and cadence (issue 17, item 3), over a real registry on SQLite and PostgreSQL.

Three rounds are built through the CLI, as labs build them, and published to
a real server on 127.0.0.1:

* round 1 (2025-01-15, quarterly): lab-a and lab-b evaluate each other; lab-c
  is not invited. lab-b takes part in nothing later, so it is overdue.
* a proposed three-lab round (10 days ago) that lab-c declines with a reason;
  its protocol is never published (lab-c never signs it).
* round 3 (3 days ago, every 6 weeks): lab-a, lab-b and lab-c sign; lab-a
  evaluates lab-c; lab-b is invited and has published nothing.

The cadence parser is checked by a table; the page in headless Chromium.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import free_port, run_cli

from crosslab.registry.cadence import parse_cadence
from crosslab.registry.db import make_engine
from crosslab.registry.participation import participation
from crosslab.registry.service import open_registry
from tests.support.browser import chromium_path, load_page
from tests.support.databases import registry_database
from tests.support.smoke_round import smoke_round

TODAY = dt.datetime.now(dt.UTC).date()
ROUND_1_DATE = dt.date(2025, 1, 15)
DECLINED_DATE = TODAY - dt.timedelta(days=10)
ROUND_3_DATE = TODAY - dt.timedelta(days=3)
REASON = "Our evaluation team is booked this quarter."


# -- the cadence parser ---------------------------------------------------------------------
@pytest.mark.parametrize(("text", "schedule", "due_after_2025_01_31"), [
    ("monthly", "every month", "2025-02-28"),  # clamped to the month's last day
    ("Quarterly", "every quarter", "2025-04-30"),
    ("  annually. ", "every year", "2026-01-31"),
    ("yearly", "every year", "2026-01-31"),
    ("weekly", "every week", "2025-02-07"),
    ("fortnightly", "every 2 weeks", "2025-02-14"),
    ("half-yearly", "every 6 months", "2025-07-31"),
    ("every 10 days", "every 10 days", "2025-02-10"),
    ("every 6 weeks", "every 6 weeks", "2025-03-14"),
    ("Every  2 months", "every 2 months", "2025-03-31"),
    ("every 1 month", "every month", "2025-02-28"),
    ("every month", "every month", "2025-02-28"),
    ("every 2 quarters", "every 2 quarters", "2025-07-31"),
    ("every 3 years", "every 3 years", "2028-01-31"),
])
def test_cadence_forms_that_name_a_schedule(text: str, schedule: str, due_after_2025_01_31: str):
    cadence = parse_cadence(text)
    assert cadence.scheduled and cadence.describe() == schedule
    assert cadence.next_due(dt.date(2025, 1, 31)).isoformat() == due_after_2025_01_31


@pytest.mark.parametrize(("text", "note"), [
    ("per round", "'per round' sets no schedule"),
    ("Per Round", "'Per Round' sets no schedule"),
    ("", "'an empty cadence' sets no schedule"),
    ("biweekly", "cadence 'biweekly' not understood as a schedule"),
    ("every other month", "cadence 'every other month' not understood as a schedule"),
    ("twice a year", "cadence 'twice a year' not understood as a schedule"),
    ("every -3 days", "cadence 'every -3 days' not understood as a schedule"),
    ("every 0 days", "cadence 'every 0 days': the count must be from 1 to 1000"),
    ("every 1001 days", "cadence 'every 1001 days': the count must be from 1 to 1000"),
    ("every weeks", "cadence 'every weeks' not understood: how many weeks?"),
    ("monthly or when a model ships", "cadence 'monthly or when a model ships' not understood as a schedule"),
])
def test_cadence_forms_that_are_no_schedule_say_why(text: str, note: str):
    cadence = parse_cadence(text)
    assert not cadence.scheduled and cadence.next_due(dt.date(2025, 1, 31)) is None
    assert cadence.describe().startswith(note) and "\n" not in cadence.describe()


def test_cadence_near_the_end_of_the_calendar_does_not_overflow():
    assert parse_cadence("every 1000 years").next_due(dt.date(9990, 1, 1)) == dt.date.max
    assert parse_cadence("every 1000 weeks").next_due(dt.date(9999, 1, 1)) == dt.date.max
    assert parse_cadence("monthly").next_due(dt.date(2024, 1, 31)) == dt.date(2024, 2, 29)


def test_an_empty_registry_has_an_empty_matrix(tmp_path: Path):
    registry = open_registry(f"sqlite:///{tmp_path / 'empty.sqlite3'}", tmp_path / "log.key")
    with registry.engine.connect() as conn:
        matrix = participation(conn, today=dt.date(2026, 1, 1))
    assert (matrix["labs"], matrix["rounds"], matrix["overdue"], matrix["today"]) == ([], [], [], "2026-01-01")
    assert [s["state"] for s in matrix["legend"]] == ["evaluated-others", "was-evaluated", "evaluated-itself",
                                                      "declined", "invited-no-result", "not-invited"]


def test_a_self_evaluation_is_its_own_state_not_evaluating_others():
    from crosslab.registry.participation import _cell

    round_ = {"protocol_id": "p", "participants": ["lab-a", "lab-b"]}
    own = {"kind": "bundle", "index": 7, "lab": "lab-a", "evaluated": "lab-a", "deployment": "a-prod"}
    other = {**own, "index": 8, "evaluated": "lab-b", "deployment": "b-prod"}
    assert _cell("lab-a", round_, [own])["states"] == ["evaluated-itself"]
    assert _cell("lab-a", round_, [other, own])["states"] == ["evaluated-others", "evaluated-itself"]
    assert _cell("lab-b", round_, [own])["states"] == ["invited-no-result"]
    assert _cell("lab-c", round_, [own, other])["states"] == ["not-invited"]


# -- three rounds, built as labs build them ---------------------------------------------------
def _protocol(root: Path, name: str, title: str, labs: list[str], date: dt.date, cadence: str, spec: dict) -> Path:
    deployments = {"lab-a": ("a-prod", "refuse-all"), "lab-b": ("b-prod", "comply-all"),
                   "lab-c": ("c-prod", "refuse-all")}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**spec, "title": title, "cadence": cadence,
                                    "round": {"number": int(name[-1]), "date": date.isoformat()},
                                    "participants": [{"identity": f"keys/{lab}.identity.json", "deployments": [
                                        {"name": deployments[lab][0], "target": {
                                            "provider": "baseline", "model": deployments[lab][1]}}]}
                                        for lab in labs]}))
    return path


def _bundle(world: dict, protocol: Path, run: Path, lab: str, evaluated: str, deployment: str, name: str) -> Path:
    out = world["root"] / name
    made = run_cli("bundle", "create", str(run), "--protocol", str(protocol), "--as", lab, "--evaluated", evaluated,
                   "--deployment", deployment, "--out", str(out), env=world["env"])
    assert made.returncode == 0, made.stderr
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    world = smoke_round(tmp_path_factory.mktemp("participation"))  # keys for lab-a/b/c, a comply-all run
    root, env, spec = world["root"], world["env"], world["spec"]
    runs = root / "refuse-runs"
    made = run_cli("run", "--suite", "smoke", "--target", "baseline:refuse-all", "--out", str(runs), "--no-cache",
                   "--quiet")
    assert made.returncode == 0, made.stderr
    [refuse_run] = list(runs.iterdir())
    round1 = _protocol(root, "round1", "A and B, round 1", ["lab-a", "lab-b"], ROUND_1_DATE, "quarterly", spec)
    proposed = _protocol(root, "round2", "A, B and C, proposed", ["lab-a", "lab-b", "lab-c"], DECLINED_DATE,
                         "per round", spec)
    round3 = _protocol(root, "round3", "A, B and C, round 3", ["lab-a", "lab-b", "lab-c"], ROUND_3_DATE,
                       "every 6 weeks", spec)
    for path, signers in ((round1, ("lab-a", "lab-b")), (round3, ("lab-a", "lab-b", "lab-c"))):
        for lab in signers:
            signed = run_cli("protocol", "sign", str(path), "--as", lab, env=env)
            assert signed.returncode == 0, signed.stderr
    return {**world, "round1": round1, "proposed": proposed, "round3": round3,
            "a_on_b": _bundle(world, round1, world["run"], "lab-a", "lab-b", "b-prod", "r1-a-on-b"),
            "b_on_a": _bundle(world, round1, refuse_run, "lab-b", "lab-a", "a-prod", "r1-b-on-a"),
            "a_on_c": _bundle(world, round3, refuse_run, "lab-a", "lab-c", "c-prod", "r3-a-on-c")}


# -- a real server, on either database --------------------------------------------------------
def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 - loopback test server
        return r.read()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request, tmp_path_factory) -> Iterator[str]:
    with registry_database(request.param, tmp_path_factory.mktemp("db"), "crosslab_participation") as url:
        yield url


@pytest.fixture(scope="module")
def server(db: str, world: dict, tmp_path_factory) -> Iterator[str]:
    """``crosslab registry serve`` with the three rounds published through the CLI, in log order 0…5."""
    port, where = free_port(), tmp_path_factory.mktemp("registry-dir")
    url = f"http://127.0.0.1:{port}"
    with (where / "stderr.txt").open("w+") as stderr:  # a file, not a pipe nobody drains
        proc = subprocess.Popen([sys.executable, "-m", "crosslab", "registry", "serve", "--db", db, "--dir",
                                 str(where), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=stderr,
                                text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(url + "/checkpoint")
                break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"registry did not start: {(where / 'stderr.txt').read_text()}") from None
                time.sleep(0.2)
        env = world["env"]
        for path in (world["round1"], world["a_on_b"], world["b_on_a"]):
            published = run_cli("registry", "submit", url, str(path), env=env)
            assert published.returncode == 0, published.stderr
        declined = run_cli("registry", "decline", url, str(world["proposed"]), "--as", "lab-c", "--reason", REASON,
                           env=env)
        assert declined.returncode == 0, declined.stderr
        for path in (world["round3"], world["a_on_c"]):
            published = run_cli("registry", "submit", url, str(path), env=env)
            assert published.returncode == 0, published.stderr
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def _states(matrix: dict) -> dict[str, list[list[str]]]:
    return {row["lab"]: [cell["states"] for cell in row["cells"]] for row in matrix["labs"]}


# -- the matrix over the real registry ----------------------------------------------------------
def test_the_matrix_says_who_took_part_in_each_round(server: str):
    matrix = json.loads(_get(server + "/api/v1/participation"))
    assert [(r["round"], r["date"], r["published"], r["index"]) for r in matrix["rounds"]] == [
        (1, "2025-01-15", True, 0), (2, DECLINED_DATE.isoformat(), False, None), (3, ROUND_3_DATE.isoformat(), True, 4)]
    assert _states(matrix) == {
        "lab-a": [["evaluated-others", "was-evaluated"], ["invited-no-result"], ["evaluated-others"]],
        "lab-b": [["evaluated-others", "was-evaluated"], ["invited-no-result"], ["invited-no-result"]],
        "lab-c": [["not-invited"], ["declined"], ["was-evaluated"]],
    }
    cells = {(row["lab"], cell["protocol_id"]): cell for row in matrix["labs"] for cell in row["cells"]}
    round1, proposed, round3 = (r["protocol_id"] for r in matrix["rounds"])
    assert [(e["state"], e["index"], e["evaluated"], e["deployment"]) for e in cells["lab-a", round1]["evidence"]] == [
        ("evaluated-others", 1, "lab-b", "b-prod"), ("was-evaluated", 2, "lab-a", "a-prod")]
    assert [(e["state"], e["index"], e["lab"]) for e in cells["lab-c", round3]["evidence"]] == [
        ("was-evaluated", 5, "lab-a")]
    [decline] = cells["lab-c", proposed]["evidence"]
    assert (decline["index"], decline["reason"]) == (3, REASON)
    assert cells["lab-b", round3]["evidence"] == [] and cells["lab-c", round1]["evidence"] == []


def test_every_evidence_link_leads_to_the_entry_it_names(server: str):
    matrix = json.loads(_get(server + "/api/v1/participation"))
    for row in matrix["labs"]:
        for cell in row["cells"]:
            for e in cell["evidence"]:
                entry = json.loads(_get(server + e["entry"]))
                assert (entry["index"], entry["kind"], entry["lab"]) == (e["index"], e["kind"], e["lab"])
                assert "included" in _get(server + e["inclusion"]).decode(), e["inclusion"]
    for r in matrix["rounds"]:
        assert r["protocol_id"] in _get(server + r["page"]).decode()
        if r["published"]:
            assert json.loads(_get(f"{server}/api/v1/entries/{r['index']}"))["kind"] == "protocol"


def test_cadence_marks_the_lab_that_let_its_schedule_lapse(server: str):
    matrix = json.loads(_get(server + "/api/v1/participation"))
    cadence = {row["lab"]: row["cadence"] for row in matrix["labs"]}
    assert matrix["overdue"] == ["lab-b"]
    assert {k: cadence["lab-b"][k] for k in ("last", "cadence", "schedule", "next_due", "overdue")} == {
        "last": "2025-01-15", "cadence": "quarterly", "schedule": "every quarter", "next_due": "2025-04-15",
        "overdue": True}
    due = (ROUND_3_DATE + dt.timedelta(weeks=6)).isoformat()
    for lab in ("lab-a", "lab-c"):  # took part three days ago, due again in six weeks
        assert (cadence[lab]["last"], cadence[lab]["schedule"], cadence[lab]["next_due"], cadence[lab]["overdue"]) \
            == (ROUND_3_DATE.isoformat(), "every 6 weeks", due, False)


def test_overdue_is_judged_against_the_day_asked(server: str, db: str):
    """The query itself, on the same database: due on the day is not overdue, the day after it is."""
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            on_the_day = participation(conn, today=dt.date(2025, 4, 15))
            day_after = participation(conn, today=dt.date(2025, 4, 16))
            one_round = participation(conn, today=dt.date(2025, 4, 16), limit=1)
    finally:
        engine.dispose()
    assert on_the_day["overdue"] == [] and day_after["overdue"] == ["lab-b"]
    assert [r["round"] for r in one_round["rounds"]] == [3] and one_round["rounds_total"] == 3
    assert _states(one_round)["lab-b"] == [["invited-no-result"]]
    assert one_round["overdue"] == ["lab-b"]  # cadence still reads every round, not only those shown


# -- the page in Chromium ------------------------------------------------------------------------
def test_the_page_shows_the_api_and_needs_nothing_else(server: str, tmp_path_factory):
    if chromium_path() is None:
        pytest.fail("Chromium is not installed (CI installs Debian's chromium)")
    matrix = json.loads(_get(server + "/api/v1/participation"))
    page = load_page(server + "/participation", tab_through=True)
    shot = tmp_path_factory.mktemp("screens") / "participation.png"
    shot.write_bytes(page.screenshot)
    assert page.screenshot.startswith(b"\x89PNG")
    assert page.errors == [], page.errors
    assert all(u.startswith(server) for u in page.requests), page.requests
    assert page.links and set(page.links) <= set(page.focused), set(page.links) - set(page.focused)
    labels = {s["state"]: s["label"] for s in matrix["legend"]}
    expected = {"labs-count": str(len(matrix["labs"])), "rounds-count": str(len(matrix["rounds"])),
                "overdue-count": str(len(matrix["overdue"])), "today": matrix["today"]}
    for row in matrix["labs"]:
        lab, c = row["lab"], row["cadence"]
        for cell in row["cells"]:
            expected[f"cell-{lab}-{cell['protocol_id']}"] = " + ".join(labels[s] for s in cell["states"])
        expected[f"last-{lab}"] = c["last"] or "never"
        expected[f"schedule-{lab}"] = c["schedule"] or f"no schedule: {c['note']}"
        expected[f"due-{lab}"] = c["next_due"] or "–"
        expected[f"status-{lab}"] = "overdue" if c["overdue"] else "on schedule" if c["next_due"] else "no schedule"
    assert page.keyed == expected
    evidence = {server + link for row in matrix["labs"] for cell in row["cells"] for e in cell["evidence"]
                for link in (e["entry"], e["inclusion"])}
    rounds = {server + r["page"] for r in matrix["rounds"]} | {server + r["inclusion"] for r in matrix["rounds"]
                                                                if r["inclusion"]}
    assert evidence | rounds <= set(page.links)
    assert 'href="/participation"' in _get(server + "/").decode()  # the home page and the nav lead here
