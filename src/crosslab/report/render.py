"""Render a report (``report/model.py``) as one self-contained HTML file, Markdown, or JSON."""

from __future__ import annotations

from typing import Any

import jinja2
import orjson
from markupsafe import Markup

from crosslab.report import charts

TITLES = {"public": "Cross-lab evaluation: public report", "partner": "Cross-lab evaluation: partner report",
          "joint": "Cross-lab evaluation: joint round report"}
SUBTITLES = {"public": "Public-tier results only. Restricted and withheld items are counted, not shown.",
             "partner": "For participating labs: includes restricted examples. Do not publish.",
             "joint": "Every direction of the round side by side, with each bundle's verification status."}


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def signed(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:+.1f} pts"


def num(x: Any) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def group(g: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in g.items()) or "all"


def _interval_row(label: str, score: float | None, ci: dict | None, colour: str) -> dict[str, Any]:
    return {"label": label, "estimate": score, "low": ci["lower"] if ci else None,
            "high": ci["upper"] if ci else None, "colour": colour}


def _chart(spec: dict[str, Any], series: str) -> str:
    """Draw one chart spec from a suite's report view (docs/reports.md lists the kinds)."""
    kind, title = spec["chart"], spec["title"]
    if kind == "heatmap":
        cells = {(c["row"], c["col"]): (c["k"], c["n"]) for c in spec["cells"]}
        return charts.heatmap(cells, spec["rows"], spec["cols"], title)
    if kind == "stacked_bars":
        return charts.stacked_bars([(series, spec["counts"])], [tuple(o) for o in spec["order"]], title)
    if kind == "intervals":
        return charts.interval_chart(spec["rows"], title)
    raise ValueError(f"unknown chart kind {kind!r} in a suite's report view")


def build_charts(report: dict[str, Any]) -> dict[str, Any]:
    bundles = report["bundles"]
    colour = {b["key"]: charts.PALETTE[n % len(charts.PALETTE)] for n, b in enumerate(bundles)}
    dash = [_interval_row(f"{r['category']} · {b['model_info']['developer']}/{b['model_info']['name']}"
                          f" ({b['source_metadata']['source_organization_name']})",
                          r["score_details"]["score"], r["score_details"]["uncertainty"]["confidence_interval"],
                          colour[b["key"]])
            for b in bundles for r in b["evaluation_results"] if r["slice"] == "all" and r["category"] != "all"]
    dash.sort(key=lambda row: row["label"])
    per_bundle = {b["key"]: [Markup(_chart(spec, b["model_info"]["name"]))
                             for specs in b["views"].values() for spec in specs] for b in bundles}
    forest = []
    for c in report["comparisons"]:
        rows = [{"label": f"{r['category']}/{r['slice']}", "difference": r["difference"], "low": r["low"],
                 "high": r["high"], "note": f"adj. p {num(r['p_adjusted'])}"} for r in c["rows"]]
        forest.append(Markup(charts.forest(rows, f"{c['a']} − {c['b']} (pass rate, points)")))
    lines: dict[str, list[tuple[float, ...]]] = {}
    for p in report["trend"]:
        lines.setdefault(p["key"], []).append((p["round"], p["pass_rate"], p.get("low"), p.get("high")))
    return {"dashboard": Markup(charts.interval_chart(dash, "Pass rate per category (95% Wilson interval)")),
            "per_bundle": per_bundle, "forest": forest,
            "trend": Markup(charts.trend(lines, "Overall pass rate by round (95% intervals)")) if lines else ""}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("crosslab.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html.j2"]), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    env.globals.update(pct=pct, signed=signed, num=num, group=group)
    return env


def render_html(report: dict[str, Any]) -> str:
    return _environment().get_template("report.html.j2").render(
        report=report, charts=build_charts(report), title=TITLES[report["audience"]],
        subtitle=SUBTITLES[report["audience"]])


def render_markdown(report: dict[str, Any]) -> str:
    return _environment().get_template("report.md.j2").render(
        report=report, title=TITLES[report["audience"]], subtitle=SUBTITLES[report["audience"]])


def render_json(report: dict[str, Any]) -> bytes:
    return orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def render_template(name: str, **context: Any) -> str:
    """Render one of the report templates with the shared helpers (tier-2 reports use this)."""
    return _environment().get_template(name).render(**context)
