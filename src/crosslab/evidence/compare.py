"""Two vendors side by side from their verified records: paired only where the same protocol ran the same items.

A paired comparison looks at each item twice, once per vendor, so it is
only sound when both vendors answered the same items under the same terms.
Per category, this module pairs a bundle about vendor A with one about
vendor B only when both were made under the **same protocol** (same suites
at the same digests and epochs, same graders, same settings, signed by the
same participants) and the category's stubs are the **same items** in the
same order (the statements' ``runs`` blocks place every stub at a suite item
and epoch). Otherwise no comparison is made and the row says why in plain
words: the category is missing on one side, the protocols differ (and
whether the items would have matched), or the items differ.

The statistics are those of ``crosslab compare`` (``results.compare``, on
``stats.paired`` and ``stats.bootstrap``): Newcombe's paired interval and
the exact McNemar p for one binary outcome per item, the paired cluster
bootstrap otherwise; p-values Holm-adjusted within each category's rows.
Each side's own figures (the verified pass rate with its interval) are
shown for every category, labelled as not compared where no pairing holds.

The CLI (two packages) and the registry's page (its own stored, verified
records) both call ``compare_evidence``, so they cannot disagree.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from crosslab.core.version import __version__
from crosslab.evidence.records import VerifiedBundle, VerifiedEvidence
from crosslab.evidence.summary import bundle_id, bundle_view, category_rows, environment
from crosslab.report import charts
from crosslab.report.render import num
from crosslab.report.bundle_view import BundleView
from crosslab.results.compare import Row, RunOutcomes, compare_runs

SCHEMA_VERSION = "crosslab-evidence-comparison/1"
Items = tuple[tuple[tuple[str, int, str], ...], tuple[tuple[str, str, int, int], ...]]


def compare_evidence(a: VerifiedEvidence, b: VerifiedEvidence, *, generated_at: str = "", alpha: float = 0.05,
                     resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The comparison as data (``crosslab-evidence-comparison/1``); the CLI's HTML and the registry page show it."""
    views = {id(x): bundle_view(x) for x in (*a.bundles, *b.bundles)}
    categories = sorted({c for x in (*a.bundles, *b.bundles) for c in category_rows(x)})
    rows = [_category(cat, a, b, views, alpha, resamples, seed) for cat in categories]
    return {
        "schema_version": SCHEMA_VERSION, "generated_at": generated_at,
        "eval_library": {"name": "crosslab", "version": __version__},
        "a": _side(a), "b": _side(b), "alpha": alpha, "correction": "holm",
        "categories": rows,
        "compared": [r["category"] for r in rows if r["compared"]],
        "not_compared": [r["category"] for r in rows if not r["compared"]],
    }


def _side(found: VerifiedEvidence) -> dict[str, Any]:
    cp = found.checkpoint
    return {"vendor": found.vendor, "checkpoint": {"origin": cp.origin, "size": cp.size, "root": cp.root.hex()},
            "witnesses": sorted(c.witness.name for c in found.cosignatures),
            "bundles": len(found.bundles), "declined": len(found.declined)}


def _latest(bundles: list[VerifiedBundle]) -> VerifiedBundle:
    return max(bundles, key=lambda x: (x.result.round.get("number", 0), x.indices[0]))


def _figures(bundle: VerifiedBundle, category: str) -> dict[str, Any]:
    """One side's own verified figures for a category, from its latest bundle there."""
    row, r = category_rows(bundle)[category], bundle.result
    rate = row["pass_rate"]
    return {"bundle": bundle_id(bundle), "evaluator": r.evaluator, "deployment": r.deployment,
            "protocol_id": bundle.protocol_id, "round": r.round.get("number"), "date": r.round.get("date"),
            "graded": row["graded"], "passed": row["passed"], "pass_rate": rate["estimate"] if rate else None,
            "low": rate["low"] if rate else None, "high": rate["high"] if rate else None}


def _items(view: BundleView, category: str) -> Items:
    """The category's stubs as (suite#position, epoch, slice), and the suites (name, digest, items, epochs) they use."""
    units = tuple((unit, epoch, stub["slice"] or "all")
                  for stub, (unit, epoch) in zip(view.stubs, view.units(), strict=False)
                  if stub["category"] == category)
    used = {unit.split("#")[0] for unit, _, _ in units}
    suites = tuple((str(r["suite"]), str(r["items_digest"]), int(r["items"]), int(r["epochs"]))
                   for r in view.predicate.get("runs", []) if r["suite"] in used)
    return units, suites


def _category(category: str, a: VerifiedEvidence, b: VerifiedEvidence, views: dict[int, BundleView], alpha: float,
              resamples: int, seed: int) -> dict[str, Any]:
    has_a = [x for x in a.bundles if category in category_rows(x)]
    has_b = [x for x in b.bundles if category in category_rows(x)]
    row: dict[str, Any] = {"category": category, "compared": False, "reason": None, "paired": None,
                           "a": _figures(_latest(has_a), category) if has_a else None,
                           "b": _figures(_latest(has_b), category) if has_b else None}
    if not has_a or not has_b:
        have, lack = (a.vendor, b.vendor) if has_a else (b.vendor, a.vendor)
        row["reason"] = (f"category missing on one side: {lack} has no published, verified finding in {category} "
                         f"(only {have} was evaluated on it)")
        return row
    items = {id(x): _items(views[id(x)], category) for x in (*has_a, *has_b)}
    pairs = [(x, y) for x in has_a for y in has_b if x.protocol_id == y.protocol_id and items[id(x)] == items[id(y)]]
    if not pairs:
        row["reason"] = _why_not(category, a.vendor, b.vendor, has_a, has_b, items)
        return row
    x, y = max(pairs, key=lambda p: (p[0].result.round.get("number", 0), p[0].result.evaluator == p[1].result.evaluator,
                                     -p[0].indices[0], -p[1].indices[0]))
    result = compare_runs(_outcomes(views[id(x)], category, a.vendor), _outcomes(views[id(y)], category, b.vendor),
                          alpha=alpha, resamples=resamples, seed=seed)
    row.update(compared=True, a=_figures(x, category), b=_figures(y, category), paired={
        "protocol_id": x.protocol_id, "round": x.result.round.get("number"),
        "suites": [{"suite": s, "items_digest": d, "items": n, "epochs": e} for s, d, n, e in items[id(x)][1]],
        "unpaired_samples": result.unpaired, "overall": _overall(result.rows, category).to_dict(),
        "rows": [r.to_dict() for r in result.rows]})
    return row


def _overall(rows: list[Row], category: str) -> Row:
    """The row over all the category's items: ``category/all``, or its only slice (``compare_runs`` keeps one)."""
    mine = [r for r in rows if r.category == category]
    return next((r for r in mine if r.slice == "all"), mine[0])


def _why_not(category: str, vendor_a: str, vendor_b: str, has_a: list[VerifiedBundle], has_b: list[VerifiedBundle],
             items: dict[int, Items]) -> str:
    """One plain sentence: why no pair of bundles can be compared item by item in this category."""
    protocols_a, protocols_b = {x.protocol_id for x in has_a}, {y.protocol_id for y in has_b}
    if protocols_a & protocols_b:
        return (f"different items: under the protocol both share, the {category} stubs of {vendor_a} and {vendor_b} "
                "do not sit at the same suite items and epochs")
    x, y = _latest(has_a), _latest(has_b)
    where = (f"{vendor_a} under protocol {x.protocol_id[:12]}… (round {x.result.round.get('number')}), "
             f"{vendor_b} under protocol {y.protocol_id[:12]}… (round {y.result.round.get('number')})")
    if any(items[id(p)] == items[id(q)] for p in has_a for q in has_b):
        return (f"different protocol: {where}; the suite items are the same, but graders, prompts and settings are "
                "only known to match under one protocol, so the samples are not paired")
    suites = lambda z: ", ".join(f"{s}@{d[:12]}…×{e}" for s, d, _, e in items[id(z)][1])  # noqa: E731
    return f"different protocol and different items: {where}; items {suites(x)} against {suites(y)}"


def _outcomes(view: BundleView, category: str, label: str) -> RunOutcomes:
    """A bundle's graded stubs in one category, keyed by (suite item, epoch): what ``compare_runs`` pairs on."""
    out = RunOutcomes(label, str(view.predicate.get("evaluated", {}).get("target_digest", "")))
    for stub, (unit, epoch) in zip(view.stubs, view.units(), strict=False):
        if stub["category"] != category:
            continue
        out.groups[unit] = (category, stub["slice"] or "all")
        if stub["status"] == "error":
            out.errors += 1
        elif stub["score"] is not None:
            out.scores[(unit, "", epoch)] = float(stub["score"])
    return out


# -- HTML --------------------------------------------------------------------------------------------------------
def render_comparison_body(data: dict[str, Any]) -> Markup:
    """The comparison as an HTML fragment: the CLI's page and the registry's page both show exactly this."""
    compared = [r for r in data["categories"] if r["compared"]]
    forest = charts.forest([{"label": r["category"], "difference": r["paired"]["overall"]["difference"]["estimate"]
                             if r["paired"]["overall"]["difference"] else None,
                             "low": (r["paired"]["overall"]["difference"] or {}).get("low"),
                             "high": (r["paired"]["overall"]["difference"] or {}).get("high"),
                             "note": f"adj. p {num(r['paired']['overall']['p_adjusted'])}"} for r in compared],
                           f"{data['a']['vendor']} − {data['b']['vendor']} (pass rate, points)") if compared else ""
    html = environment().get_template("comparison_body.html.j2").render(c=data, forest=Markup(forest))
    return Markup(html)


def render_comparison_html(data: dict[str, Any]) -> str:
    """One self-contained page in the report style: inline CSS and SVG, no script, nothing fetched."""
    return environment().get_template("comparison.html.j2").render(c=data, body=render_comparison_body(data))
