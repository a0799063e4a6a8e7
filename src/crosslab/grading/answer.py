"""Short-answer grading: correct, incorrect or not attempted, decided in code.

The three labels follow SimpleQA: a model that declines ("I don't know") is
*not attempted*, which is better than *incorrect*. Each accepted form (the
gold, its aliases, and the forms the gold string itself offers: the part
outside parentheses, either side of " or ", the head before ", who ...")
is tried in turn:

* numeric forms: any number in the response equals the gold number at the
  gold's precision (``9.81`` accepts 9.806 but not 9.8; ``6.02e23`` compares
  three significant figures; an integer gold must match exactly). Signs
  (``-``, ``−``, a leading ``–``, "minus"), decimal commas, ``× 10²³`` and
  number words ("forty-two", "one hundred and twelve") are read. A form that
  starts with a number and names a unit ("9 years") needs only the number;
* text forms, after normalisation (case, accents, punctuation, articles,
  number words and Roman numerals as digits): the form as a whole-word
  phrase, or written without its spaces and hyphens ("N-acetyl cysteine"),
  or every word of it somewhere in the response ("Robert F. Kennedy" for
  "Robert Kennedy", a list in another order), a word matching when it is
  inflected or spelled nearly the same ("Shostakovitch"). Titles are not
  needed, words the question already holds are no evidence, and half the
  words of a long description state it;
* a short response (a few words beyond the question's) that is itself part of
  an accepted form, covering at least half of it ("Collie" for "Rough
  collie").

A response that declines is *not attempted* (the abstention detector
decides), one that matches nothing *incorrect*. A stated confidence
("Confidence: 80", "I am 90% sure") and a verbatim echo of the question are
removed before matching; the confidence is returned separately. The rules
and their constants were tuned on human judgments of TriviaQA answers
(docs/graders/abstention_and_answer.md gives the agreement on held-out data).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from difflib import SequenceMatcher
from typing import Any

from crosslab.grading.abstention import detect

NAME = "answer"
VERSION = "2"

_CONFIDENCE = re.compile(
    r"\(?\bconfidence(?: level| score)?\s*(?:[:=\-]|is|of)?\s*(\d{1,3}(?:\.\d+)?)\s*(%|/\s*100|percent)?\)?",
    re.IGNORECASE)
# "I am 90% sure", "I'm about 80 percent confident", "with 75% certainty": a certainty, not the answer.
_CERTAINTY = re.compile(
    r"\b(?:i(?:'m| am)\s+(?:about\s+|around\s+|roughly\s+|maybe\s+)?(\d{1,3}(?:\.\d+)?)\s*(?:%|percent)\s*"
    r"(?:sure|certain|confident)|with\s+(?:about\s+)?(\d{1,3}(?:\.\d+)?)\s*(?:%|percent)\s*(?:confidence|certainty))"
    r"[.!]?",
    re.IGNORECASE)
_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10 ** 6, "billion": 10 ** 9}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
_NUMBER_PHRASE = re.compile(rf"\b(?:{_NUMBER_WORD})(?:(?:\s+and\s+|[\s-]+)(?:{_NUMBER_WORD}))*\b", re.IGNORECASE)
_SUPERSCRIPT = str.maketrans("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b\u207a",
                             "0123456789-+")
_SUPERSCRIPT_RUN = re.compile("[\u2070\u00b9\u00b2\u00b3\u2074-\u2079\u207b\u207a]+")
_NUM = re.compile(
    r"(?<![\w.,])[-\u2212]?(?:\d{1,3}(?:,\d{3})+(?![\d,])|\d+,(?:\d{1,2}|\d{4,})(?![\d,])|\d+)(?:\.\d+)?"
    r"(?:\s*(?:[eE]|[x\u00d7*]\s*10\s*\^?\s*)[-+\u2212]?\d+)?(?![\d])")
_GOLD_NUM = re.compile(r"^[-\u2212]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")
_LEADING_NUM = re.compile(r"^\s*([-\u2212]?\d[\d,]*(?:\.\d+)?)\s*(%|[^\W\d]+(?:\s+[^\W\d]+)?)\s*$")
_ARTICLES = re.compile(r"\b(?:the|a|an)\b")
_FOOTNOTE = re.compile(r"(?<=[^\W\d_]{2})\d{1,2}\b")  # a citation number glued to a word: "Otto Hahn1."
_CONTRACTION = re.compile(r"(?<=[a-z])'(?:m|re|ll|ve|d|t)\b", re.IGNORECASE)
# Words that say nothing about which answer was given.
_FILLER = frozenset(
    "of and or in on at to for by with from as is was are were be been it its this that who which what "
    "our their his her s".split())
# Titles name no one by themselves: "Professor Henry Higgins" is answered by "Henry Higgins".
_TITLES = frozenset(
    "king queen sir mr mrs dr lady lord professor prof saint st president general captain jr jnr".split())
_ROMAN = {r: str(n) for n, r in enumerate(
    "- - ii iii iv - vi vii viii ix - xi xii xiii xiv xv xvi xvii xviii xix xx".split()) if r != "-"}
_ECHO = 12  # characters: a question this long that the response repeats verbatim is removed from it
_SHORT_RESPONSE = 4  # words beyond the question's: longer responses are not read as a bare answer
_SIMILAR = 0.85  # difflib ratio above which two words of 5+ letters are the same word misspelt
_PREFIX = 6  # a word of 6+ letters that begins another is the same word inflected
_LONG_GOLD = 4  # a gold of this many words or more is a description: half of its words state it


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
    matches = [(m, m.group(1)) for m in _CONFIDENCE.finditer(response)]
    matches += [(m, m.group(1) or m.group(2)) for m in _CERTAINTY.finditer(response)]
    matches = sorted(((m, v) for m, v in matches if float(v) <= 100), key=lambda mv: mv[0].start())
    if not matches:
        return response, None
    last, value = matches[-1]
    return (response[:last.start()] + response[last.end():]).strip(), round(float(value) / 100, 4)


def _phrase_value(words: list[str]) -> int:
    total, current = 0, 0
    for word in words:
        if word in _SCALES:
            scale = _SCALES[word]
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * scale
                current = 0
        else:
            current += _UNITS.get(word, 0) + _TENS.get(word, 0)
    return total + current


def words_to_digits(text: str) -> str:
    """Number words as digits: "forty-two" -> 42, "one hundred and twelve" -> 112, "one and two" -> 1 and 2."""
    def value(m: re.Match[str]) -> str:
        groups: list[list[str]] = [[]]
        for word in re.split(r"[\s-]+", m.group().lower()):
            if word != "and":
                groups[-1].append(word)
            elif groups[-1][-1] not in _SCALES:  # "and" joins only after hundred, thousand ...
                groups.append([])
        return " and ".join(str(_phrase_value(g)) for g in groups)
    return _NUMBER_PHRASE.sub(value, text)


def _plain_numbers(text: str) -> str:
    """Superscript exponents, a leading en dash and "minus" written as plain ASCII signs."""
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^" + m.group().translate(_SUPERSCRIPT), text)
    text = re.sub(r"(?<![\w.])\u2013(?=\d)", "-", text)
    return re.sub(r"\b(?:minus|negative)\s+(?=\d)", "-", text, flags=re.IGNORECASE)


def _to_decimal(token: str) -> Decimal | None:
    token = token.replace("\u2212", "-").replace(" ", "")
    if re.fullmatch(r"-?\d+,(?:\d{1,2}|\d{4,})", token):  # a decimal comma
        token = token.replace(",", ".")
    token = token.replace(",", "")
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
    found = []
    for m in _NUM.finditer(words_to_digits(_plain_numbers(text))):
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
    if "." not in gold_text:  # an integer gold: 6.5 is not 7
        return candidate == gold
    quantum = Decimal(1).scaleb(-len(gold_text.split(".")[1]))
    return candidate.quantize(quantum, rounding=ROUND_HALF_UP) == gold.quantize(quantum)


def is_numeric(gold: str) -> bool:
    return bool(_GOLD_NUM.match(gold.strip().replace(",", "")))


def gold_forms(gold: str) -> list[str]:
    """The answers a gold string accepts by its own wording, the gold first.

    "(Group Captain) Peter Townsend" also accepts "Peter Townsend";
    "International Whaling Commission or IWC" either side; "Nicholas
    Breakspear, who was Adrian IV" the head before the clause.
    """
    forms = [gold]
    bare = re.sub(r"\s*[(\[][^)\]]*[)\]]\s*", " ", gold).strip()
    forms.append(bare)
    forms += re.split(r"\s+or\s+", bare, flags=re.IGNORECASE)
    head = re.match(r"^(.+?),\s+(?:who|which|where|when|whose|the|a|an|now|then|also|born|later|formerly)\b",
                    bare, flags=re.IGNORECASE)
    if head:
        forms.append(head.group(1))
    return list(dict.fromkeys(f.strip() for f in forms if f.strip()))


def _words(text: str) -> list[str]:
    """Normalised words, number words and Roman numerals as digits, a decimal kept whole ("6.8" is not
    "6 8"), contractions and glued footnote numbers dropped (the "m" of "I'm" is no initial)."""
    text = _CONTRACTION.sub("", re.sub(r"(?<=\d)[.,](?=\d)", "_", words_to_digits(text)).replace("\u2019", "'"))
    words = normalise(_FOOTNOTE.sub("", text)).split()
    return [_ROMAN.get(w, w) for w in words]


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _same_word(a: str, b: str) -> bool:
    if a == b or _stem(a) == _stem(b):
        return True
    if min(len(a), len(b)) >= _PREFIX and (a.startswith(b) or b.startswith(a)):  # "distil", "distillation"
        return True
    return (min(len(a), len(b)) >= 5 and a[0] == b[0] and abs(len(a) - len(b)) <= 2
            and SequenceMatcher(None, a, b).ratio() >= _SIMILAR)


@dataclass(frozen=True)
class _Response:
    """The response read once (without an echo of the question): its words and numbers, and the question's words."""
    raw: str
    text: str  # the words, joined by spaces
    words: frozenset[str]
    stems: frozenset[str]
    question: frozenset[str]
    numbers: tuple[Decimal, ...]

    @classmethod
    def read(cls, response: str, question: str | None) -> _Response:
        if question and len(question.strip()) >= _ECHO:  # the question repeated back states nothing
            response = re.sub(re.escape(question.strip()), " ", response, flags=re.IGNORECASE)
        words = _words(response)
        return cls(response, " ".join(words), frozenset(words), frozenset(map(_stem, words)),
                   frozenset(_words(question or "")), tuple(numbers_in(response)))

    def has_word(self, word: str) -> bool:
        if word in self.words or _stem(word) in self.stems:
            return True
        return len(word) >= 5 and any(_same_word(word, w) for w in self.words)

    def answer_words(self) -> list[str]:
        """The response's own words: those not in the question and not filler."""
        return [w for w in self.text.split() if w not in self.question and w not in _FILLER and w not in _TITLES]


def _has_number(resp: _Response, gold: str) -> bool:
    gold_num = gold.strip().replace(",", "")
    return any(_same_at_precision(n, gold_num) for n in resp.numbers)


def _match_form(resp: _Response, form: str) -> str | None:
    """How the response states one accepted form (None when it does not)."""
    if is_numeric(form):
        return "number" if _has_number(resp, form) else None
    counted = _LEADING_NUM.match(form)
    if counted and is_numeric(counted.group(1)):  # "9 years", "1500 metres": the number decides
        return "number" if _has_number(resp, counted.group(1)) else None
    words = _words(form)
    if not words:  # a symbol alone ("¥") is looked for as written
        return "alias" if form.strip() and form.strip() in resp.raw else None
    norm = " ".join(words)
    padded = f" {resp.text} "
    if f" {norm} " in padded:
        return "alias"
    compact = norm.replace(" ", "")
    if len(compact) >= 3 and compact in resp.text.replace(" ", ""):
        spaced = r"\s?".join(re.escape(c) for c in compact)
        if re.search(rf"(?<!\w){spaced}(?!\w)", resp.text):
            return "compact"
    content = [w for w in words if w not in _FILLER and w not in _TITLES] or words
    # the question's words are no evidence, and initials ("M.", "I") alone are not enough
    wanted = [w for w in content if w not in resp.question]
    if all(len(w) < 3 for w in wanted):
        return None
    present = sum(resp.has_word(w) for w in wanted)
    if present == len(wanted) or (len(wanted) >= _LONG_GOLD and 2 * present >= len(wanted)):
        return "words"
    return None


def _within_form(resp: _Response, forms: list[str]) -> str | None:
    """A short response that is itself part of an accepted form, covering at least half of it."""
    own = resp.answer_words()
    if not own or len(own) > _SHORT_RESPONSE:
        return None
    for form in forms:
        content = [w for w in _words(form) if w not in _FILLER and w not in _TITLES]
        if content and all(any(_same_word(w, c) for c in content) for w in own) and 2 * len(own) >= len(content):
            return form
    return None


@dataclass(frozen=True)
class AnswerResult:
    label: str  # correct | incorrect | not_attempted
    matched: str | None
    how: str  # "alias", "compact", "words", "number", "within", "abstained", "no match"
    confidence: float | None
    abstention: dict[str, Any]

    @property
    def score(self) -> float:
        return 1.0 if self.label == "correct" else 0.0

    def evidence(self, gold: str) -> dict[str, Any]:
        return {"gold": gold, "matched": self.matched, "how": self.how,
                "confidence": self.confidence, "abstention": self.abstention}


def match(response: str, gold: str, aliases: list[str] | tuple[str, ...] = (),
          question: str | None = None) -> tuple[str, str] | None:
    """The accepted form the response states and how it was found (None when none is)."""
    resp = _Response.read(response, question)
    forms = list(dict.fromkeys(f for candidate in (gold, *aliases) for f in gold_forms(candidate)))
    for form in forms:
        how = _match_form(resp, form)
        if how:
            return form, how
    within = _within_form(resp, forms)
    return (within, "within") if within else None


def grade_answer(response: str, gold: str, aliases: list[str] | tuple[str, ...] = (),
                 question: str | None = None) -> AnswerResult:
    if not gold.strip():
        raise ValueError("answer: the gold answer is empty")
    body, confidence = split_confidence(response)
    abstention = detect(body, question)
    # a bare negation with nothing asserted ("not in education") abstains only when nothing matches
    declined = abstention.abstained and any(c.kind != "no_assertion" for c in abstention.cues)
    found = None if declined else match(body, gold, aliases, question)
    if found is not None:
        return AnswerResult("correct", found[0], found[1], confidence, abstention.evidence())
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
