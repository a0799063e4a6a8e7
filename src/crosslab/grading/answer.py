"""Short-answer grading: correct, incorrect or not attempted, decided in code.

The three labels follow SimpleQA: a model that declines ("I don't know") is
*not attempted*, which is better than *incorrect*. Matching:

* text answers: the gold answer or an accepted alias appears in the response
  as a whole-word phrase after normalisation (case, accents, punctuation,
  leading articles);
* numeric answers: any number in the response equals the gold number at the
  gold's precision (``9.81`` accepts 9.806 but not 9.8; ``6.02e23`` compares
  three significant figures; an integer gold must match exactly). Number
  words up to twenty count as numbers.

A response that matches nothing is *not attempted* when the abstention
detector says it declined, otherwise *incorrect*. A stated confidence line
("Confidence: 80") is removed before matching and returned separately.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from crosslab.grading.abstention import detect

NAME = "answer"
VERSION = "1"

_CONFIDENCE = re.compile(
    r"\(?\bconfidence(?: level| score)?\s*(?:[:=\-]|is|of)?\s*(\d{1,3}(?:\.\d+)?)\s*(%|/\s*100|percent)?\)?",
    re.IGNORECASE)
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
_NUM = re.compile(
    r"(?<![\w.])[-\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
    r"(?:\s*(?:[eE]|[x\u00d7*]\s*10\s*\^?\s*)[-+\u2212]?\d+)?(?![\d])")
_GOLD_NUM = re.compile(r"^[-\u2212]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")
_ARTICLES = re.compile(r"\b(?:the|a|an)\b")


def normalise(text: str) -> str:
    """Lower case, no accents, punctuation as spaces, no articles, single spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("\u2019", "'").replace("'s ", " ").replace("&", " and ")
    text = re.sub(r"[^\w\s]", " ", text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def split_confidence(response: str) -> tuple[str, float | None]:
    """The response without its confidence statement, and the confidence as 0..1 (None if absent)."""
    matches = [m for m in _CONFIDENCE.finditer(response) if float(m.group(1)) <= 100]
    if not matches:
        return response, None
    last = matches[-1]
    value = float(last.group(1)) / 100
    return (response[:last.start()] + response[last.end():]).strip(), round(value, 4)


def _to_decimal(token: str) -> Decimal | None:
    token = token.replace("\u2212", "-").replace(",", "").replace(" ", "")
    m = re.match(r"^(-?[\d.]+)(?:(?:e|x10\^?|\u00d710\^?|\*10\^?)(-?\+?\d+))?$", token.lower())
    if not m:
        return None
    try:
        value = Decimal(m.group(1))
        if m.group(2):
            value = value.scaleb(int(m.group(2).replace("+", "")))
        return value
    except InvalidOperation:
        return None


def numbers_in(text: str) -> list[Decimal]:
    words = re.sub(r"[a-z]+", lambda m: _NUMBER_WORDS.get(m.group(), m.group()), text.lower())
    found = []
    for m in _NUM.finditer(words):
        value = _to_decimal(m.group())
        if value is not None:
            found.append(value)
    return found


def _same_at_precision(candidate: Decimal, gold_text: str) -> bool:
    with localcontext() as ctx:
        ctx.prec = 200  # quantizing a large number at a tiny quantum must not overflow
        try:
            return _compare(candidate, gold_text)
        except InvalidOperation:
            return False


def _compare(candidate: Decimal, gold_text: str) -> bool:
    gold = _to_decimal(gold_text)
    if gold is None:
        return False
    if "e" in gold_text.lower():  # scientific: compare the mantissa's significant figures
        mantissa = gold_text.lower().split("e")[0].lstrip("-")
        sig = len(mantissa.replace(".", "").lstrip("0")) or 1
        if candidate == 0 or gold == 0:
            return candidate == gold
        exponent = gold.adjusted()
        quantum = Decimal(1).scaleb(exponent - sig + 1)
        if candidate.adjusted() not in (exponent - 1, exponent, exponent + 1):
            return False
        return candidate.quantize(quantum, rounding=ROUND_HALF_UP) == gold.quantize(quantum)
    decimals = len(gold_text.split(".")[1]) if "." in gold_text else 0
    quantum = Decimal(1).scaleb(-decimals)
    return candidate.quantize(quantum, rounding=ROUND_HALF_UP) == gold.quantize(quantum)


def is_numeric(gold: str) -> bool:
    return bool(_GOLD_NUM.match(gold.strip().replace(",", "")))


@dataclass(frozen=True)
class AnswerResult:
    label: str  # correct | incorrect | not_attempted
    matched: str | None
    how: str  # "alias", "number", "abstained", "no match"
    confidence: float | None
    abstention: dict[str, Any]

    @property
    def score(self) -> float:
        return 1.0 if self.label == "correct" else 0.0

    def evidence(self, gold: str) -> dict[str, Any]:
        return {"gold": gold, "matched": self.matched, "how": self.how,
                "confidence": self.confidence, "abstention": self.abstention}


def match(response: str, gold: str, aliases: list[str] | tuple[str, ...] = ()) -> str | None:
    """The gold or alias that the response states (None when none does)."""
    text = normalise(response)
    padded = f" {text} "
    for candidate in (gold, *aliases):
        if is_numeric(candidate):
            gold_num = candidate.strip().replace(",", "")
            if any(_same_at_precision(n, gold_num) for n in numbers_in(response)):
                return candidate
            continue
        norm = normalise(candidate)
        if norm and f" {norm} " in padded:
            return candidate
    return None


def grade_answer(response: str, gold: str, aliases: list[str] | tuple[str, ...] = (),
                 question: str | None = None) -> AnswerResult:
    if not gold.strip():
        raise ValueError("answer: the gold answer is empty")
    body, confidence = split_confidence(response)
    abstention = detect(body, question)
    found = match(body, gold, aliases)
    if found is not None and not abstention.abstained:
        how = "number" if is_numeric(found) else "alias"
        return AnswerResult("correct", found, how, confidence, abstention.evidence())
    if abstention.abstained:
        return AnswerResult("not_attempted", None, "abstained", confidence, abstention.evidence())
    return AnswerResult("incorrect", None, "no match", confidence, abstention.evidence())


def grade_line(obj: dict[str, Any]) -> dict[str, Any]:
    """``crosslab grade answer``: {question?, response, gold, aliases?} -> correct | incorrect | not_attempted."""
    response, gold = obj.get("response"), obj.get("gold")
    if not isinstance(response, str) or not isinstance(gold, str):
        raise ValueError("answer: 'response' and 'gold' must be strings")
    aliases = obj.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ValueError("answer: 'aliases' must be a list of strings")
    question = obj.get("question") if isinstance(obj.get("question"), str) else None
    result = grade_answer(response, gold, aliases, question)
    return {"label": result.label, "evidence": result.evidence(gold), "grader": NAME, "version": VERSION}
