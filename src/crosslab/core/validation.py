"""One line for a pydantic ValidationError: where the first problem is, and what it is."""

from __future__ import annotations

from pydantic import ValidationError


def first_problem(exc: ValidationError) -> str:
    """``field.path: message`` of the first error (``(top level)`` when it has no location)."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    return f"{where}: {err['msg']}"
