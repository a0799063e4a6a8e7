from pathlib import Path

import pytest

from crosslab.results.costs import cost_usd, load_prices, price_for


def test_exact_price_beats_wildcard_and_unknown_models_have_no_price(tmp_path: Path):
    prices = load_prices()
    assert cost_usd("openai:gpt-4o-mini", 1_000_000, 1_000_000, prices) == pytest.approx(0.75)
    assert cost_usd("local:smollm2", 10**9, 10**9, prices) == 0.0
    assert price_for("openai:some-new-model", prices) is None
    assert cost_usd("openai:some-new-model", 10, 10, prices) is None  # unknown is "n/a", never $0


def test_override_file_adds_and_replaces_prices(tmp_path: Path):
    override = tmp_path / "prices.yaml"
    override.write_text('"openai:*": {input: 1.0, output: 2.0}\n"openai:gpt-4o-mini": {input: 0.0, output: 0.0}\n')
    prices = load_prices(override)
    assert cost_usd("openai:some-new-model", 1_000_000, 500_000, prices) == pytest.approx(2.0)
    assert cost_usd("openai:gpt-4o-mini", 1_000_000, 1_000_000, prices) == 0.0
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just a list\n")
    with pytest.raises(ValueError, match="must be a mapping"):
        load_prices(bad)
