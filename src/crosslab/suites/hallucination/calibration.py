"""Calibration of stated confidence: expected calibration error (ECE) and Brier score.

ECE uses 10 equal-width bins over [0, 1] (a confidence of exactly 1 falls in
the last bin): the share-weighted mean of |accuracy - mean confidence| per
bin. Brier is the mean squared difference between confidence and outcome (1
correct, 0 otherwise). Both are 0 for a perfectly calibrated, perfectly sharp model.
"""

from __future__ import annotations

from collections.abc import Sequence

BINS = 10


def ece(confidences: Sequence[float], correct: Sequence[bool], bins: int = BINS) -> float | None:
    if len(confidences) != len(correct):
        raise ValueError("ece: confidences and outcomes differ in length")
    if not confidences:
        return None
    totals = [[0, 0.0, 0] for _ in range(bins)]  # count, sum of confidence, correct
    for c, ok in zip(confidences, correct, strict=True):
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"ece: confidence {c} is outside [0, 1]")
        b = min(int(c * bins), bins - 1)
        totals[b][0] += 1
        totals[b][1] += c
        totals[b][2] += int(ok)
    n = len(confidences)
    return sum(cnt / n * abs(hits / cnt - conf / cnt) for cnt, conf, hits in totals if cnt)


def brier(confidences: Sequence[float], correct: Sequence[bool]) -> float | None:
    if len(confidences) != len(correct):
        raise ValueError("brier: confidences and outcomes differ in length")
    if not confidences:
        return None
    return sum((c - float(ok)) ** 2 for c, ok in zip(confidences, correct, strict=True)) / len(confidences)
