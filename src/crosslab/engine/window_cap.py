"""A hard cap: at most ``per_second`` units in any sliding one-second window.

This is how a user's ``--rpm`` / ``--tpm`` is honoured exactly. A token bucket
with a minute's burst (what the engine used before) lets a whole minute's
quota out in one second; providers enforce per-minute limits over much
shorter windows, so the cap counts every sliding second instead. A small
guard widens the window so that a few milliseconds of network jitter cannot
bunch two sends into one server-side second.

Units are requests (weight 1) or tokens (an estimate, corrected when the
answer says what was used).
"""

from __future__ import annotations

import collections
import math

#: Seconds added to the window, so jitter on the way cannot push sends together.
GUARD_S = 0.02


class Entry:
    """One send in the window; its weight can be corrected once the real count is known."""

    __slots__ = ("at", "weight")

    def __init__(self, at: float, weight: float) -> None:
        self.at = at
        self.weight = weight


class WindowCap:
    def __init__(self, per_second: float, guard_s: float = GUARD_S) -> None:
        """``guard_s``: how much jitter may lie between this cap's clock and the server's arrivals."""
        # Below one unit a second, one unit per 1/rate seconds: the window widens instead.
        self.window = max(1.0, 1.0 / per_second) + guard_s
        self.capacity = max(1.0, math.floor(per_second * max(1.0, 1.0 / per_second) + 1e-9))
        self._log: collections.deque[Entry] = collections.deque()
        self._sum = 0.0

    def _expire(self, now: float) -> None:
        log = self._log
        while log and log[0].at <= now - self.window:
            self._sum -= log.popleft().weight
        if not log:
            self._sum = 0.0  # no float drift across an empty window

    def next_time(self, now: float, weight: float) -> float:
        """Earliest time at which ``weight`` more units fit (``now`` if they fit already)."""
        self._expire(now)
        weight = min(weight, self.capacity)  # one oversized send goes alone into an empty window
        need = self._sum + weight - self.capacity
        if need <= 1e-9:
            return now
        for entry in self._log:  # the oldest entries leave first
            need -= entry.weight
            if need <= 1e-9:
                return entry.at + self.window
        return now  # unreachable unless weights were corrected below zero

    def record(self, now: float, weight: float) -> Entry:
        entry = Entry(now, weight)
        self._log.append(entry)
        self._sum += weight
        return entry

    def correct(self, entry: Entry, weight: float) -> None:
        """Replace an estimate by the real count, if the entry is still in the window."""
        if self._log and entry.at >= self._log[0].at:
            self._sum += weight - entry.weight
        entry.weight = weight
