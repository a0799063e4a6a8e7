"""A one-page summary of a *verified* evidence package, for procurement: the JSON it shows, and the HTML.

A buyer's procurement team reads pages, not packages. This page is made only
from a ``VerifiedEvidence`` (``verify_package`` passed), so every figure on it
is one the buyer's own offline check recomputed: findings per category with
their intervals and the grader agreement the bundle carries, the rounds the
vendor took part in, the replies it signed, the rounds it declined, the
witnessed checkpoint, and a table of the questions buyers are asked to cover
(``questions.yaml``) against the findings that answer them. A question no
finding answers is listed as not covered, never dropped.

The per-bundle figures reuse the report layer (``report.model``), and the
HTML reuses the report's stylesheet and number formats, so a summary reads
like the reports it summarises. The HTML is one file: inline CSS and SVG, no
script, nothing fetched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import orjson
import yaml
from markupsafe import Markup

from crosslab.attest.dsse import b64decode, load_envelope
from crosslab.bundle import layout
from crosslab.core.version import __version__
from crosslab.evidence.errors import EvidenceError
from crosslab.evidence.records import VerifiedBundle, VerifiedEvidence
from crosslab.report import charts
from crosslab.report.bundle_view import BundleView
from crosslab.report.model import build_report
from crosslab.report.render import group, num, pct, signed

SCHEMA_VERSION = "crosslab-evidence-summary/1"
QUESTIONS_FORMAT = "crosslab-buyer-questions/1"
#: What a question's ``record`` may name: facts of the verified record, not findings of a category.
RECORD_FACTS = {
    "external_evaluation": "evaluated by another lab, in a published bundle",
    "public_samples": "sample inputs and outputs disclosed in the public tier and checked against their commitments",
}


@dataclass(frozen=True)
class Question:
    """A question buyers are asked to cover, its source (document and section), and what answers it."""

    id: str
    question: str
    document: str
    section: str
    categories: tuple[str, ...]
    record: tuple[str, ...]


def load_questions(path: Path | None = None) -> tuple[Question, ...]:
    """The packaged ``questions.yaml`` (or ``path``), checked strictly; EvidenceError names what is wrong."""
    where = str(path) if path else "questions.yaml"
    try:
        text = path.read_text(encoding="utf-8") if path else \
            resources.files("crosslab.evidence").joinpath("questions.yaml").read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EvidenceError(f"{where}: cannot be read ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != QUESTIONS_FORMAT or \
            not isinstance(data.get("questions"), list):
        raise EvidenceError(f"{where}: not a {QUESTIONS_FORMAT} file")
    out: list[Question] = []
    for n, q in enumerate(data["questions"], start=1):
        try:
            answered = q.get("answered_by") or {}
            question = Question(str(q["id"]), " ".join(str(q["question"]).split()), str(q["source"]["document"]),
                                str(q["source"]["section"]), tuple(map(str, answered.get("categories") or ())),
                                tuple(map(str, answered.get("record") or ())))
        except (KeyError, TypeError, AttributeError):
            raise EvidenceError(f"{where}: question {n} needs id, question, source.document, source.section") from None
        unknown = set(question.record) - set(RECORD_FACTS)
        if unknown:
            raise EvidenceError(f"{where}: question {question.id}: unknown record fact {sorted(unknown)[0]!r}")
        if not (question.categories or question.record):
            raise EvidenceError(f"{where}: question {question.id}: answered_by names nothing")
        if any(question.id == seen.id for seen in out):
            raise EvidenceError(f"{where}: question id {question.id} twice")
        out.append(question)
    return tuple(out)


def bundle_view(bundle: VerifiedBundle) -> BundleView:
    """A verified bundle as the report layer reads it (already verified: nothing is checked again here)."""
    payload = b64decode(load_envelope(bundle.files[layout.STATEMENT])["payload"], "payload")
    predicate = orjson.loads(payload)["predicate"]
    stubs = [orjson.loads(line) for line in bundle.files[layout.ITEMS].splitlines()]
    return BundleView(Path(f"log-entry-{bundle.indices[0]}"), True, None, bundle.result, predicate,
                      orjson.loads(bundle.files[layout.PROTOCOL]), stubs)


def bundle_id(bundle: VerifiedBundle) -> str:
    """A bundle's id on the page: its first log index, which is unique in the log."""
    return f"e{bundle.indices[0]}"


def category_rows(bundle: VerifiedBundle) -> dict[str, dict[str, Any]]:
    """Each category's whole-category pass-rate row, as the offline verifier recomputed it."""
    return {r["category"]: r for r in bundle.result.metrics.get("rows", [])
            if r["slice"] == "all" and r["category"] != "all"}


def build_summary(found: VerifiedEvidence, generated_at: str,
                  questions: tuple[Question, ...] | None = None) -> dict[str, Any]:
    """The summary as data (``crosslab-evidence-summary/1``); the HTML shows exactly this."""
    questions = load_questions() if questions is None else questions
    bundles, findings = [], []
    for b in found.bundles:
        bundle, rows = _bundle(found, b), category_rows(b)
        suites = bundle.pop("suite_metrics")
        for category, row in sorted(rows.items()):
            rate = row["pass_rate"]
            findings.append({
                "id": f"{bundle['id']}|{category}", "bundle": bundle["id"], "category": category,
                "evaluator": b.result.evaluator, "round": b.result.round.get("number"),
                "date": b.result.round.get("date"), "samples": row["samples"], "graded": row["graded"],
                "passed": row["passed"], "pass_rate": rate["estimate"] if rate else None,
                "low": rate["low"] if rate else None, "high": rate["high"] if rate else None,
                "method": rate["method"] if rate else None,
                "suite_metrics": suites.get(category, []),
                "agreement": _agreement(suites.get(category, [])),
            })
        bundles.append(bundle)
    return {
        "schema_version": SCHEMA_VERSION, "generated_at": generated_at,
        "eval_library": {"name": "crosslab", "version": __version__},
        "vendor": found.vendor,
        "checkpoint": {"origin": found.checkpoint.origin, "size": found.checkpoint.size,
                       "root": found.checkpoint.root.hex(),
                       "witnesses": [{"name": c.witness.name, "timestamp": c.timestamp}
                                     for c in sorted(found.cosignatures, key=lambda c: c.witness.name)]},
        "bundles": bundles,
        "findings": findings,
        "rounds": _rounds(found),
        "replies": [{"bundle": b["id"], "from": b["evaluated"], "text": b["reply"]} for b in bundles if b["reply"]],
        "declines": [{"index": d.index, "protocol_id": d.protocol.id, "title": d.protocol.title,
                      "round": d.protocol.round.number, "date": str(d.protocol.round.date), "reason": d.reason}
                     for d in found.declined],
        "questions": _questions(questions, findings, bundles),
        "how_to_verify": f"crosslab evidence verify PACKAGE --log-key LOG_KEY --witness-key W ... --vendor "
                         f"{found.vendor}",
    }


def _bundle(found: VerifiedEvidence, b: VerifiedBundle) -> dict[str, Any]:
    r = b.result
    report = build_report([bundle_view(b)], "public", "")["bundles"][0]  # one view: no comparisons computed
    protocol = found.protocols[b.protocol_id]
    return {"id": bundle_id(b), "indices": list(b.indices), "kinds": list(b.kinds), "protocol_id": b.protocol_id,
            "protocol_title": protocol.title, "round": r.round.get("number"), "date": r.round.get("date"),
            "evaluator": r.evaluator, "evaluated": r.evaluated, "deployment": r.deployment,
            "self_evaluation": r.self_evaluation, "countersigned": r.countersigned and not r.self_evaluation,
            "reply": r.response, "stubs": r.stubs, "by_tier": dict(r.by_tier), "public_checked": r.public_verified,
            "revealed": r.revealed, "grader_cards": report["grader_cards"], "suite_metrics": report["suite_metrics"]}


def _agreement(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct grader cards behind a category's suite metrics (``report.model`` matched them by grader id)."""
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        for card in row.get("agreement") or []:
            seen.setdefault(f"{card['grader']}|{card['label_sha256']}", card)
    return list(seen.values())


def _rounds(found: VerifiedEvidence) -> list[dict[str, Any]]:
    """Rounds the vendor took part in: evaluated (its bundles), and evaluating others (from the witnessed leaves).

    Bundles the vendor wrote about others are not in its package, but their
    leaves are, and the leaves are the whole log the witnesses cosigned.
    """
    out = []
    for b in found.bundles:
        r = b.result
        out.append({"role": "evaluated itself" if r.self_evaluation else "was evaluated", "protocol_id": b.protocol_id,
                    "round": r.round.get("number"), "date": r.round.get("date"), "counterpart": r.evaluator,
                    "countersigned": r.countersigned and not r.self_evaluation, "index": b.indices[0]})
    countersigned = {leaf.statement_sha256 for leaf in found.leaves if leaf.kind == "countersignature"}
    for leaf in found.leaves:
        if leaf.kind == "bundle" and leaf.lab == found.vendor and leaf.evaluated != found.vendor:
            protocol = found.protocols.get(leaf.protocol_id)
            out.append({"role": "evaluated others", "protocol_id": leaf.protocol_id, "round": leaf.round,
                        "date": str(protocol.round.date) if protocol else None, "counterpart": leaf.evaluated,
                        "countersigned": leaf.statement_sha256 in countersigned, "index": leaf.index})
    return sorted(out, key=lambda x: (x["round"], x["index"]))


def _questions(questions: tuple[Question, ...], findings: list[dict[str, Any]],
               bundles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    facts = {"external_evaluation": [b["id"] for b in bundles if b["evaluator"] != b["evaluated"]],
             "public_samples": [b["id"] for b in bundles if b["public_checked"]]}
    out = []
    for q in questions:
        answers = [f["id"] for f in findings if f["category"] in q.categories and f["graded"]]
        records = [{"fact": fact, "meaning": RECORD_FACTS[fact], "bundles": facts[fact]}
                   for fact in q.record if facts[fact]]
        out.append({"id": q.id, "question": q.question, "document": q.document, "section": q.section,
                    "categories": list(q.categories), "record": list(q.record), "findings": answers,
                    "record_answers": records, "covered": bool(answers or records)})
    return out


# -- HTML --------------------------------------------------------------------------------------------------------
def _report_style() -> str:
    """The report template's own stylesheet, verbatim: one look for reports and summaries, kept in one place."""
    source = resources.files("crosslab.report").joinpath("templates", "report.html.j2").read_text(encoding="utf-8")
    found = re.search(r"<style>.*?</style>", source, re.S)
    return found.group(0) if found else ""


def environment() -> jinja2.Environment:
    """The evidence templates, with the report's number formats and stylesheet (``style``)."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("crosslab.evidence", "templates"),
                             autoescape=jinja2.select_autoescape(["html.j2"]), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(pct=pct, signed=signed, num=num, group=group, style=Markup(_report_style()))
    return env


def render_summary_html(summary: dict[str, Any]) -> str:
    """One self-contained HTML page: inline CSS and SVG, no script, nothing fetched."""
    chart = charts.interval_chart(
        [{"label": f"{f['category']} · by {f['evaluator']}, round {f['round']}", "estimate": f["pass_rate"],
          "low": f["low"], "high": f["high"]} for f in summary["findings"]],
        "Pass rate per category (95% Wilson interval)") if summary["findings"] else ""
    return environment().get_template("summary.html.j2").render(s=summary, chart=Markup(chart))
