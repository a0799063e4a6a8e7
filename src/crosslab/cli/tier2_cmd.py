"""`crosslab tier2 plan`: how many rollouts a tier-2 claim needs, and what zero events would show."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from crosslab.cli.common import console, fail

app = typer.Typer(help="Tier 2: third-party evaluation of labs' internal agents (docs/tier2.md).",
                  no_args_is_help=True)
Opt = typer.Option


@app.command()
def plan(
    rate: Annotated[float, Opt(min=1e-6, max=0.5, help="The rarest behaviour rate to see at least once.")] = 0.01,
    power: Annotated[float, Opt(min=0.5, max=0.9999, help="Probability of seeing it at least once.")] = 0.8,
    serve_dir: Annotated[Path | None, Opt("--serve-dir", help="A planned `crosslab env serve` directory: "
                                          "what its rollouts per lab and family can show.")] = None,
) -> None:
    """Rollouts needed to see a rare behaviour, and, for a planned directory, the bound zero events gives."""
    import orjson

    from crosslab.stats.power import detectable_rate_upper_bound, rollouts_to_observe

    need = rollouts_to_observe(rate, power)
    console.print(f"to see a behaviour of rate {rate:.2%} at least once with probability {power:.0%}: "
                  f"[bold]{need}[/] rollouts per lab (in each family you want a claim about)",
                  soft_wrap=True, highlight=False)
    if serve_dir is None:
        return
    from crosslab.tier2.book import BOOK_FILE

    path = serve_dir / BOOK_FILE
    try:
        book = orjson.loads(path.read_bytes())
        per = Counter((entry["lab"], _family(entry["item_id"])) for entry in book["tokens"].values())
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        fail(f"{path}: not a tier-2 serve plan ({type(exc).__name__}: {exc})")
    table = Table(title=f"{serve_dir}: what each lab's planned rollouts can show")
    for col in ("lab", "family", "rollouts", "0 events: rate ≤ (95 %)", f"enough for {rate:.2%}?"):
        table.add_column(col, justify="left" if col in ("lab", "family") else "right")
    for (lab, family), n in sorted(per.items()):
        table.add_row(lab, family, str(n), f"{detectable_rate_upper_bound(n):.2%}",
                      "yes" if n >= need else f"no ({need - n} more)")
    console.print(table)


def _family(item_id: str) -> str:
    """The family of a scheming item id (scheming-<family>-...), else the id's first part."""
    parts = item_id.split("-")
    return parts[1] if parts[0] == "scheming" and len(parts) > 1 else parts[0]
