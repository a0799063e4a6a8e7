"""A protocol's free-text ``cadence``, read as a schedule where it plainly names one.

The field is free text (``protocol/schema.py``, default "per round"), so the
registry reads only the common forms and says so for everything else:
guessing a schedule would mark a lab overdue on a reading nobody agreed to.

Understood (case and surrounding spaces ignored, a trailing full stop too):
``daily``, ``weekly``, ``fortnightly``, ``monthly``, ``quarterly``,
``semiannually`` / ``half-yearly``, ``annually`` / ``yearly``, and
``every [N] day(s) | week(s) | month(s) | quarter(s) | year(s)`` with N from 1
to 1000. Anything else, "per round" and "biweekly" (twice a week, or every two
weeks?) included, is no schedule, with a note saying why.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

#: Unit -> (days, months) per one of it; a month-based unit keeps the day of the month.
_UNITS: dict[str, tuple[int, int]] = {"day": (1, 0), "week": (7, 0), "month": (0, 1), "quarter": (0, 3),
                                      "year": (0, 12)}
_WORDS: dict[str, tuple[int, str]] = {
    "daily": (1, "day"), "weekly": (1, "week"), "fortnightly": (2, "week"), "monthly": (1, "month"),
    "quarterly": (1, "quarter"), "semiannually": (6, "month"), "semi-annually": (6, "month"),
    "half-yearly": (6, "month"), "annually": (1, "year"), "yearly": (1, "year"),
}
_EVERY = re.compile(r"every(?: (?P<n>[0-9]{1,4}))? (?P<unit>day|week|month|quarter|year)(?P<plural>s?)")
MAX_EVERY = 1000


@dataclass(frozen=True)
class Cadence:
    """What a cadence text means: every ``count`` ``unit``s, or no schedule (``unit`` None) and why."""

    text: str
    count: int = 0
    unit: str | None = None
    note: str = ""

    @property
    def scheduled(self) -> bool:
        return self.unit is not None

    def describe(self) -> str:
        """The schedule in words ("every 3 months"), or the note saying why there is none."""
        if self.unit is None:
            return self.note
        return f"every {self.unit}" if self.count == 1 else f"every {self.count} {self.unit}s"

    def next_due(self, last: dt.date) -> dt.date | None:
        """The date the next round is due after a round on ``last``; None without a schedule."""
        if self.unit is None:
            return None
        days, months = _UNITS[self.unit]
        if months:
            return _add_months(last, months * self.count)
        try:
            return last + dt.timedelta(days=days * self.count)
        except OverflowError:  # a round dated near the year 9999
            return dt.date.max


def parse_cadence(text: str) -> Cadence:
    """Read ``text`` as a schedule; anything not plainly one of the understood forms is no schedule."""
    spoken = " ".join(str(text).lower().split()).removesuffix(".")
    if spoken in _WORDS:
        count, unit = _WORDS[spoken]
        return Cadence(text, count, unit)
    match = _EVERY.fullmatch(spoken)
    if match is None:
        if spoken in ("", "per round"):
            return Cadence(text, note=f"{text.strip() or 'an empty cadence'!r} sets no schedule")
        return Cadence(text, note=f"cadence {text.strip()!r} not understood as a schedule (understood: monthly, "
                                  "quarterly, annually, every N days/weeks/months/years, ...)")
    count = int(match["n"]) if match["n"] else 1
    if not 1 <= count <= MAX_EVERY:
        return Cadence(text, note=f"cadence {text.strip()!r}: the count must be from 1 to {MAX_EVERY}")
    if not match["n"] and match["plural"]:
        return Cadence(text, note=f"cadence {text.strip()!r} not understood: how many {match['unit']}s?")
    return Cadence(text, count, match["unit"])


def _add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved ``months`` calendar months on, clamped to the month's last day (Jan 31 + 1 month: Feb 28/29)."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    if year > dt.MAXYEAR:
        return dt.date.max
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))
