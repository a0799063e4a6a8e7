"""Read the rate-limit headers providers send, into one provider-neutral hint.

The engine paces itself from these (crosslab.engine.pacing), so every
network adapter hands them over, on answers and on errors alike. Documented
names, all case-insensitive:

- OpenAI (and OpenAI-compatible servers such as Groq or Together):
  ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``; resets are
  durations such as ``1s``, ``6m0s``, ``20ms``.
- Anthropic: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
  {limit,remaining,reset}``; resets are RFC 3339 times.
- Everyone: ``retry-after`` (seconds or an HTTP date) and OpenAI's
  ``retry-after-ms``.

Limits are per minute for both providers; ``reset`` is the time until the
quota is full again (a token bucket) or until the window ends (a fixed
window). Unparseable values are dropped, never guessed.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

#: The quotas a hint can carry, in the engine's names.
DIMENSIONS = ("requests", "tokens", "input_tokens", "output_tokens")

_OPENAI = {f"x-ratelimit-{field}-{dim}": (dim, field)
           for dim in ("requests", "tokens") for field in ("limit", "remaining", "reset")}
_ANTHROPIC = {f"anthropic-ratelimit-{dim.replace('_', '-')}-{field}": (dim, field)
              for dim in DIMENSIONS for field in ("limit", "remaining", "reset")}
_NAMES = {**_OPENAI, **_ANTHROPIC}
_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "retry-after")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


@dataclass(frozen=True, slots=True)
class Quota:
    """One limit as the server reported it: units per minute, units left, seconds to reset."""

    limit: float | None = None
    remaining: float | None = None
    reset_s: float | None = None


@dataclass(frozen=True, slots=True)
class RateLimitHint:
    """What one response said about the caller's limits; absent fields were not sent."""

    quotas: dict[str, Quota]
    retry_after_s: float | None = None

    def quota(self, dimension: str) -> Quota | None:
        return self.quotas.get(dimension)


def parse_duration(value: str | None) -> float | None:
    """Seconds from a Go-style duration (``1s``, ``6m0s``, ``20ms``, ``1h2m3.5s``) or a plain number."""
    if value is None:
        return None
    text = value.strip().lower()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def parse_reset(value: str | None, now: float | None = None) -> float | None:
    """Seconds until a reset given as a duration, an RFC 3339 time or epoch seconds."""
    if value is None:
        return None
    now = time.time() if now is None else now
    text = value.strip()
    seconds = parse_duration(text)
    if seconds is not None:
        # a bare number this large is a Unix time, not a wait (some servers send epoch seconds)
        return max(0.0, seconds - now) if seconds > 1e9 else seconds
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _number(value: str) -> float | None:
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number >= 0 else None  # Azure sends -1 for "not reported"


def read_rate_limit_headers(headers: Mapping[str, str] | None, now: float | None = None) -> RateLimitHint | None:
    """The hint in ``headers`` (any case), or None when they carry none."""
    if not headers:
        return None
    found = {k.lower(): v for k, v in headers.items() if k.lower().startswith(_PREFIXES)}
    if not found:
        return None
    fields: dict[str, dict[str, float]] = {}
    for name, value in found.items():
        where = _NAMES.get(name)
        if where is None:
            continue
        dim, field = where
        number = parse_reset(value, now) if field == "reset" else _number(value)
        if number is not None:
            fields.setdefault(dim, {})[field] = number
    retry_after = None
    if "retry-after-ms" in found:
        ms = _number(found["retry-after-ms"])
        retry_after = None if ms is None else ms / 1000.0
    if retry_after is None:
        retry_after = parse_retry_after(found.get("retry-after"), now)
    quotas = {dim: Quota(f.get("limit"), f.get("remaining"), f.get("reset")) for dim, f in fields.items()}
    if not quotas and retry_after is None:
        return None
    return RateLimitHint(quotas, retry_after)


def account_fingerprint(api_key: str | None) -> str:
    """A short digest of an API key: names the account whose limit is shared, never reveals the key."""
    if not api_key:
        return ""
    import hashlib

    return hashlib.sha256(api_key.encode()).hexdigest()[:12]
