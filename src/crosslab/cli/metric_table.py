"""Print suite-specific metric rows (see stats/rows.py) as one Rich table per category."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(x: Any) -> str:
    return "—" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def print_suite_metrics(console: Console, metrics: dict[str, list[dict[str, Any]]]) -> None:
    for category, rows in metrics.items():
        if not rows:
            continue
        table = Table(title=f"{category} metrics")
        for col in ("metric", "group", "k/n", "estimate", "95% interval", "method"):
            table.add_column(col, justify="right" if col in ("k/n", "estimate") else "left")
        for row in rows:
            group = " ".join(f"{k}={v}" for k, v in row["group"].items()) or "all"
            kn = f"{row['k']}/{row['n']}" if "k" in row else f"n={row['n']}"
            interval = "" if row["low"] is None else f"[{_fmt(row['low'])}, {_fmt(row['high'])}]"
            table.add_row(row["metric"], group, kn, _fmt(row["estimate"]), interval, row["method"])
        console.print(table)
