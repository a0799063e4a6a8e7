"""Adaptive jailbreak attacks (PAIR, TAP, Crescendo): an attacker model and a judge against a target, under pinned budgets."""
