"""Map HTTP failures to TargetError kinds, shared by every network adapter."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from crosslab.targets.base import TargetError


def parse_retry_after(value: str | None) -> float | None:
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
    return max(0.0, when.timestamp() - time.time())


def error_for_status(status: int, message: str, headers: Mapping[str, str] | None = None) -> TargetError:
    """Classify an HTTP error status the way every provider documents it."""
    headers = headers or {}
    retry_after = parse_retry_after(headers.get("retry-after"))
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
    return TargetError(kind, message[:500], retry_after=retry_after, status=status)
