"""The report as data (``crosslab-report/1``), built from bundle views; HTML and Markdown render this.

Field names follow the community "Every Eval Ever" results schema where they
fit (``schema_version``, ``evaluation_id``, ``source_metadata``,
``eval_library``, ``model_info``, ``evaluation_results[].score_details``
with ``uncertainty.confidence_interval``); docs/reports.md documents every
field. Audiences differ only in what they may see: the public report holds
public-tier data and counts of the rest, the partner report adds restricted
examples, the joint report puts every direction of a round side by side.
"""

from __future__ import annotations

import string
from collections import Counter
from functools import cache
from itertools import combinations
from typing import Any, Literal
from urllib.parse import urlparse

from crosslab.attacks import ASR_MEANING
from crosslab.core.outcome import by_category
from crosslab.core.version import __version__
from crosslab.report.bundle_view import BundleView
from crosslab.results.compare import RunOutcomes, compare_runs
from crosslab.suites.registry import get_suite, metric_graders_by_category, report_text_by_category, views_by_category

Audience = Literal["public", "partner", "joint"]
SCHEMA_VERSION = "crosslab-report/1"
EXAMPLES_PER_CATEGORY = 3  # per category and tier


def _excerpt(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def _last(messages: list[dict[str, Any]], role: str) -> str:
    for m in reversed(messages):
        if m.get("role") == role and m.get("content"):
            return str(m["content"])
    return ""


def _examples(view: BundleView, tiers: set[str], limit: int) -> list[dict[str, Any]]:
    """Up to a few disclosed samples per category and tier, as short excerpts (the protocol's excerpt length)."""
    taken: Counter[tuple[str, str]] = Counter()
    out = []
    for i in sorted(view.disclosed):
        stub = view.stubs[i]
        if stub["tier"] not in tiers or taken[(stub["category"], stub["tier"])] >= EXAMPLES_PER_CATEGORY:
            continue
        record = view.disclosed[i].get("record") or {}
        messages = record.get("messages") or []
        taken[(stub["category"], stub["tier"])] += 1
        out.append({"i": i, "category": stub["category"], "slice": stub["slice"], "tier": stub["tier"],
                    "label": stub["label"], "score": stub["score"],
                    "prompt": _excerpt(_last(messages, "user"), limit),
                    "response": _excerpt(_last(messages, "assistant"), limit)})
    return out


def _results(view: BundleView) -> list[dict[str, Any]]:
    rows = []
    for row in view.predicate.get("metrics", {}).get("rows", []):
        rate = row.get("pass_rate")
        rows.append({
            "evaluation_name": f"{row['category']}/{row['slice']}",
            "category": row["category"], "slice": row["slice"],
            "metric_config": {"evaluation_description": "share of graded samples showing the wanted behaviour",
                              "lower_is_better": False, "score_type": "binary"},
            "score_details": {"score": rate["estimate"] if rate else None, "uncertainty": {
                "confidence_interval": {"lower": rate["low"], "upper": rate["high"], "confidence_level": rate["level"],
                                        "method": rate["method"]} if rate else None,
                "num_samples": row["graded"]}},
            "samples": row["samples"], "errors": row["errors"], "graded": row["graded"], "passed": row["passed"],
        })
    return rows


def _views(view: BundleView) -> dict[str, list[dict[str, Any]]]:
    """Per category, the chart specs its suite's report views make from the stubs and its metric rows."""
    grouped = by_category(view.stubs)
    suite_rows = view.predicate.get("metrics", {}).get("suites", {})
    out: dict[str, list[dict[str, Any]]] = {}
    for category, views in sorted(views_by_category().items()):
        if category in grouped:
            specs = [fn(grouped[category], suite_rows.get(category, [])) for fn in views]
            out[category] = [spec for spec in specs if spec]
    return out


def _outcomes(view: BundleView) -> dict[str, dict[str, Any]]:
    """Per category: how many graded samples got each label, and whether a label is wanted (score 1)."""
    out: dict[str, dict[str, Any]] = {}
    for s in view.stubs:
        if s["label"] is None:
            continue
        entry = out.setdefault(s["category"], {"counts": Counter(), "good": set()})
        entry["counts"][s["label"]] += 1
        if s["score"] == 1.0:
            entry["good"].add(s["label"])
    return {c: {"counts": dict(sorted(e["counts"].items())), "good_labels": sorted(e["good"])}
            for c, e in sorted(out.items())}


def _cards(cards: Any) -> list[dict[str, Any]]:
    """The grader cards a bundle carries, as report rows: grader, judge, labelled set, n, accuracy, kappa.

    The cards are signed with the statement (and pinned ones checked against the
    protocol by the verifier); anything not shaped like a card is left out.
    """
    rows = []
    for card in cards if isinstance(cards, list) else []:
        try:
            figures, grader = card["figures"], card["grader"]
            accuracy = figures["accuracy"]
            rows.append({"grader": str(grader["id"]), "version": str(grader["version"]),
                         "judge": (card.get("judge") or {}).get("digest"), "mode": card.get("mode"),
                         "label_set": str(card["label_set"]["name"]), "label_sha256": str(card["label_set"]["sha256"]),
                         "n": int(card["n"]), "accuracy": float(accuracy["estimate"]),
                         "low": float(accuracy["low"]), "high": float(accuracy["high"]),
                         "kappa": None if figures.get("kappa") is None else float(figures["kappa"]),
                         "unscored": int(figures.get("unscored", 0))})
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return rows


def _with_agreement(suites: Any, cards: list[dict[str, Any]]) -> dict[str, Any]:
    """Each suite metric row plus ``agreement``: the carried cards of the grader it rests on.

    Which grader a metric rests on is the installed suite's ``metric_graders``;
    a card matches by its grader id (``NAME``, or ``judge:NAME`` for a judge).
    A row with no such card gets an empty list: its grader's agreement is unknown.
    """
    if not isinstance(suites, dict):
        return {}
    graders = metric_graders_by_category()
    wording = report_text_by_category()
    out: dict[str, Any] = {}
    for category, rows in suites.items():
        named = graders.get(category, {})
        names = wording.get(category, {}).get("names", {})
        out[category] = [{**_row_agreement(row, named.get(row.get("metric")), cards),
                          "label": names.get(row.get("metric"), str(row.get("metric")).replace("_", " "))}
                         if isinstance(row, dict) else row for row in (rows if isinstance(rows, list) else [])]
    return out


def _figure(row: dict[str, Any] | None) -> str:
    """One overall metric row as the headline states it: k/n with its interval, or the value."""
    if row is None or not row.get("n"):
        return "not measured"
    estimate = row.get("estimate")
    if row.get("k") is not None and estimate is not None:
        interval = (f", 95 % CI {row['low']:.0%}–{row['high']:.0%}" if row.get("low") is not None
                    and row.get("high") is not None else "")
        return f"{row['k']}/{row['n']} ({estimate:.0%}{interval})"
    return "not measured" if estimate is None else f"{estimate:.3g} (n={row['n']})"


def headlines(suites: Any) -> dict[str, str]:
    """One sentence per category, written from its overall metric rows with the suite's own template."""
    out: dict[str, str] = {}
    for category, rows in (suites.items() if isinstance(suites, dict) else ()):
        template = report_text_by_category().get(category, {}).get("headline")
        if not template or not isinstance(rows, list):
            continue
        overall = {r["metric"]: r for r in rows if isinstance(r, dict) and not r.get("group")}
        out[category] = _fill(template, overall)
    return out


def _fill(template: str, overall: dict[str, dict[str, Any]]) -> str:
    """The template with each ``{metric}`` replaced by that overall row's figure, on one line."""
    parts = []
    for text, field, _spec, _conversion in string.Formatter().parse(template):
        parts.append(text)
        if field is not None:
            parts.append(_figure(overall.get(field)))
    return " ".join("".join(parts).split())


def _row_agreement(row: dict[str, Any], grader: str | None, cards: list[dict[str, Any]]) -> dict[str, Any]:
    matching = [c for c in cards if grader is not None and c["grader"] in (grader, f"judge:{grader}")]
    return {**row, "grader": grader, "agreement": matching}


@cache
def _suite_size(name: str) -> int | None:
    """Items in the installed suite of that name (None when it is not installed here); built once per
    suite, however many directions ran it."""
    try:
        return len(get_suite(name).items())
    except Exception:  # noqa: BLE001 - a suite this reader lacks: the report says "of ?"
        return None


#: What stands for an endpoint where a provider is not called over the network.
_NO_ENDPOINT = {"local": "embedded on the evaluator's machine (no network)",
                "baseline": "calibration organism (no model, no network)", "function": "a Python function"}


def _what_was_evaluated(view: BundleView) -> dict[str, Any]:
    """Which model, where, with what settings, when, and on how much of each suite: from the signed
    protocol (the agreed deployment and sampling) and the statement (the runs)."""
    pred, protocol = view.predicate, view.protocol
    evaluated = pred.get("evaluated") or {}
    lab = next((p for p in protocol.get("participants", []) if p.get("identity", {}).get("lab") == evaluated.get("lab")),
               {})
    deployment = next((d for d in lab.get("deployments", []) if d.get("name") == evaluated.get("deployment")), {})
    target = {**(protocol.get("sampling") or {}), **(deployment.get("target") or {})}
    pins = {s.get("name"): s for s in protocol.get("suites", [])}
    runs = [r for r in pred.get("runs") or [] if isinstance(r, dict)]
    return {
        "provider": target.get("provider"), "model": target.get("model"),
        "endpoint": urlparse(str(target.get("base_url") or "")).hostname
        or _NO_ENDPOINT.get(str(target.get("provider")), "the provider's public API"),
        "sampling": {k: target[k] for k in ("temperature", "top_p", "max_tokens", "seed") if k in target},
        "system_prompt": target.get("system_prefix"),
        "system_prompt_commitment": target.get("system_prefix_commitment"),
        "collected_from": (pred.get("collected") or {}).get("from")
        or min((str(r.get("created_at")) for r in runs if r.get("created_at")), default=None),
        "collected_to": (pred.get("collected") or {}).get("to"),
        "crosslab_version": pred.get("crosslab_version"),
        "suites": [{"suite": r.get("suite"), "items": r.get("items"), "epochs": r.get("epochs"),
                    "of": _suite_size(str(r.get("suite"))),
                    "subset": (pins.get(r.get("suite")) or {}).get("subset")} for r in runs],
    }


def _bundle(view: BundleView, audience: Audience) -> dict[str, Any]:
    pred, rep = view.predicate, view.report
    evaluated = pred.get("evaluated", {})
    excerpt = int(view.protocol.get("disclosure", {}).get("public_excerpt_chars", 280))
    tiers = {"public"} | ({"restricted"} if audience == "partner" and view.restricted_opened else set())
    return {
        "evaluation_id": f"{str(pred.get('protocol_id', ''))[:16]}/{view.key}",
        "key": view.key, "direction": view.direction, "path": str(view.path),
        "source_metadata": {"source_type": "evaluation_run", "source_organization_name": pred.get("evaluator"),
                            "evaluator_relationship": "third_party"},
        "eval_library": {"name": "crosslab", "version": pred.get("crosslab_version", "unknown")},
        "model_info": {"name": evaluated.get("deployment"), "id": evaluated.get("target_digest"),
                       "developer": evaluated.get("lab")},
        "round": pred.get("round"),
        "evaluated": _what_was_evaluated(view),
        "verification": {"status": "verified" if view.verified else "failed", "problem": view.problem,
                         "countersigned": bool(rep and rep.countersigned), "reply": rep.response if rep else None,
                         "public_checked": rep.public_verified if rep else None,
                         "restricted_checked": rep.restricted_verified if rep else None,
                         "revealed": rep.revealed if rep else 0},
        "counts": pred.get("counts"),
        "calls": pred.get("calls"),  # signed by the evaluator; absent from bundles made before it was recorded
        "adjudications": pred.get("adjudications"),
        "grader_cards": _cards(pred.get("grader_cards")),
        "evaluation_results": _results(view),
        "suite_metrics": _with_agreement(pred.get("metrics", {}).get("suites", {}), _cards(pred.get("grader_cards"))),
        "headlines": headlines(pred.get("metrics", {}).get("suites", {})),
        "views": _views(view),
        "outcomes": _outcomes(view),
        "examples": _examples(view, tiers, excerpt) if view.verified else [],
        "adaptive_attack": _adaptive(view) if view.verified else None,
    }


def _adaptive(view: BundleView) -> dict[str, Any] | None:
    """The bundle's adaptive attack, counts and rates only (the statement's ``attack`` block), or None.

    Shown apart from the static jailbreak metrics: the two answer different
    questions (known tricks, one query each, vs an iterating attacker under a
    per-role query budget), so each is stated with its own budget.
    """
    block = view.predicate.get("attack")
    if not isinstance(block, dict):
        return None
    spec, summary = block.get("spec") or {}, block.get("summary") or {}
    static = [r for r in view.predicate.get("runs", []) if r.get("suite") == block.get("suite")]
    queries = {role: {"median": q.get("median"), "interval": q.get("interval")}
               for role, q in (summary.get("queries_to_first_success") or {}).items()}
    return {"attack": spec.get("attack"), "params": spec.get("params"), "seed": spec.get("seed"),
            "budget": block.get("budget"), "suite": block.get("suite"), "spec_digest": block.get("spec_digest"),
            "behaviours": summary.get("behaviours"), "n": summary.get("n"), "errors": summary.get("errors"),
            "successes": summary.get("successes"), "asr_at_budget": summary.get("asr_at_budget"),
            "by_harm": summary.get("by_harm") or {}, "queries_to_first_success": queries,
            "elicitations": (block.get("elicitations") or {}).get("tier"),
            "static_budget": {"epochs": static[0].get("epochs"), "n_items": static[0].get("items")} if static else None,
            "meaning": ASR_MEANING}


def _scores(view: BundleView) -> RunOutcomes:
    out = RunOutcomes(view.key, str(view.predicate.get("evaluated", {}).get("target_digest", "")))
    for stub, (item, epoch) in zip(view.stubs, view.units(), strict=False):
        out.groups[item] = (stub["category"], stub["slice"] or "all")
        if stub["status"] == "error":
            out.errors += 1
        elif stub["score"] is not None:
            out.scores[(item, "", epoch)] = float(stub["score"])
    return out


def _comparable(a: BundleView, b: BundleView) -> bool:
    """Same protocol and the same item at every stub index: then samples pair by index."""
    return (a.verified and b.verified and a.predicate.get("protocol_id") == b.predicate.get("protocol_id")
            and a.units() == b.units() and len(a.units()) == len(a.stubs)
            and all(x["category"] == y["category"] and x["slice"] == y["slice"] for x, y in zip(a.stubs, b.stubs)))


def comparisons(views: list[BundleView], alpha: float = 0.05) -> list[dict[str, Any]]:
    """Paired A vs B for every comparable pair of bundles (same protocol and items), Holm-adjusted per pair."""
    out = []
    for a, b in combinations(views, 2):
        if not _comparable(a, b):
            continue
        result = compare_runs(_scores(a), _scores(b), alpha=alpha, resamples=2000, seed=0)
        out.append({"a": a.key, "b": b.key, "alpha": alpha, "correction": result.correction,
                    "unpaired_samples": result.unpaired,
                    "rows": [{"category": r.category, "slice": r.slice, "n_pairs": r.n_pairs,
                              "a": r.a.estimate if r.a else None, "b": r.b.estimate if r.b else None,
                              "difference": r.difference.estimate if r.difference else None,
                              "low": r.difference.low if r.difference else None,
                              "high": r.difference.high if r.difference else None,
                              "method": r.difference.method if r.difference else None,
                              "p_adjusted": r.p_adjusted, "verdict": r.verdict} for r in result.rows]})
    return out


def _items_run(view: BundleView) -> tuple[tuple[str, str, int], ...]:
    """(suite, items digest, epochs) of every run in the bundle: what a trend must hold fixed."""
    return tuple(sorted((str(r.get("suite")), str(r.get("items_digest")), int(r.get("epochs") or 0))
                        for r in view.predicate.get("runs") or [] if isinstance(r, dict)))


def _trend(views: list[BundleView]) -> tuple[list[dict[str, Any]], str | None]:
    """Overall pass rate per direction and round, across rounds that ran the very same items; and, when
    the bundles span rounds but no direction qualifies, the plain sentence that says why there is none."""
    by_key: dict[str, list[tuple[BundleView, dict[str, Any]]]] = {}
    for v in views:
        overall = next((r for r in v.predicate.get("metrics", {}).get("rows", [])
                        if r["category"] == "all" and r["slice"] == "all"), None)
        if overall and overall.get("pass_rate") and v.predicate.get("round"):
            by_key.setdefault(v.key, []).append((v, overall))
    rounds = {v.predicate["round"]["number"] for group in by_key.values() for v, _ in group}
    if len(rounds) < 2:
        return [], None
    points, changed = [], []
    for key, group in by_key.items():
        if len({v.predicate["round"]["number"] for v, _ in group}) < 2:
            continue
        if len({_items_run(v) for v, _ in group}) > 1:
            changed.append(key)
            continue
        points += [{"key": key, "round": v.predicate["round"]["number"], "pass_rate": o["pass_rate"]["estimate"],
                    "low": o["pass_rate"]["low"], "high": o["pass_rate"]["high"]} for v, o in group]
    if points:
        return points, None
    if changed:
        return [], (f"No trend across rounds: the rounds ran different items ({', '.join(sorted(changed))}: the "
                    "suites, their items or their epochs changed), so their pass rates are not comparable.")
    return [], "No trend across rounds: no direction was evaluated in more than one of these rounds."


def _protocols(views: list[BundleView]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for v in views:
        pid = v.predicate.get("protocol_id")
        if not pid or pid in seen:
            continue
        p = v.protocol
        seen[pid] = {"id": pid, "title": p.get("title"), "round": p.get("round"),
                     "participants": [{"lab": x["identity"]["lab"], "name": x["identity"]["name"],
                                       "fingerprint": x["identity"].get("fingerprint"),
                                       "deployments": [d["name"] for d in x["deployments"]]}
                                      for x in p.get("participants", [])],
                     "suites": [{k: s.get(k) for k in ("name", "digest", "subset", "epochs")}
                                for s in p.get("suites", [])],
                     "disclosure": p.get("disclosure"), "review_window_days": p.get("review_window_days")}
    return list(seen.values())


def build_report(views: list[BundleView], audience: Audience, generated_at: str) -> dict[str, Any]:
    views = sorted(views, key=lambda v: ((v.predicate.get("round") or {}).get("number", 0), v.key))
    trend, trend_note = _trend(views)
    return {
        "schema_version": SCHEMA_VERSION,
        "audience": audience,
        "generated_at": generated_at,
        "eval_library": {"name": "crosslab", "version": __version__},
        "protocols": _protocols(views),
        "bundles": [_bundle(v, audience) for v in views],
        "comparisons": comparisons(views),
        "trend": trend,
        "trend_note": trend_note,
        "how_to_verify": "crosslab verify BUNDLE_DIR --keys DIR_OF_PINNED_IDENTITY_FILES "
                         "(exit 0 only when every signature, digest, count, metric and disclosure matches)",
    }
