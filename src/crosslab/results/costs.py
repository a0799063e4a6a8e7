"""Token and cost accounting from journal records, with prices from a data file."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

Price = dict[str, float]


def load_prices(override: Path | None = None) -> dict[str, Price]:
    text = resources.files("crosslab.data").joinpath("prices.yaml").read_text(encoding="utf-8")
    prices: dict[str, Price] = yaml.safe_load(text)
    if override is not None:
        extra = yaml.safe_load(override.read_text(encoding="utf-8")) or {}
        if not isinstance(extra, dict):
            raise ValueError(f"{override}: prices must be a mapping of provider:model to {{input, output}}")
        prices.update(extra)
    return prices


def price_for(label: str, prices: dict[str, Price]) -> Price | None:
    """Exact provider:model first, then the longest matching '*' prefix."""
    if label in prices:
        return prices[label]
    wild = [k for k in prices if k.endswith("*") and label.startswith(k[:-1])]
    return prices[max(wild, key=len)] if wild else None


def cost_usd(label: str, input_tokens: int, output_tokens: int, prices: dict[str, Price]) -> float | None:
    price = price_for(label, prices)
    if price is None:
        return None
    return (input_tokens * price["input"] + output_tokens * price["output"]) / 1_000_000


def call_counts(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Model calls the samples made, how many a response cache answered, and in how many samples
    (each record's ``stats``)."""
    calls = cached = samples = 0
    for record in records:
        stats = record.get("stats") or {}
        calls += int(stats.get("calls", 0))
        hit = int(stats.get("cached_calls", 0))
        cached += hit
        samples += hit > 0
    return {"calls": calls, "cached_calls": cached, "samples_with_cached_calls": samples}
