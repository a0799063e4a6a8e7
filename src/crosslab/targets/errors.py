"""Map HTTP failures to TargetError kinds, shared by every network adapter."""

from __future__ import annotations

from collections.abc import Mapping

from crosslab.targets.base import TargetError
from crosslab.targets.ratelimit import parse_retry_after, read_rate_limit_headers

__all__ = ["error_for_status", "parse_retry_after"]


def error_for_status(status: int, message: str, headers: Mapping[str, str] | None = None) -> TargetError:
    """Classify an HTTP error status the way every provider documents it.

    The rate-limit headers travel with the error, so the engine can pace
    itself from a 429 (and from a 5xx that carries them).
    """
    hint = read_rate_limit_headers(headers)
    retry_after = hint.retry_after_s if hint else None
    if status == 429:
        kind = "rate_limit"
    elif status in (401, 403):
        kind = "auth"
    elif status in (408, 409) or status >= 500:
        kind = "server_error"
    elif 400 <= status < 500:
        kind = "bad_request"
    else:
        kind = "other"
    return TargetError(kind, message[:500], retry_after=retry_after, status=status, rate_limit=hint)
