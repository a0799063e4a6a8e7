"""Reading the fields of one `crosslab grade` input line, with errors that name the grader and field."""

from __future__ import annotations

from typing import Any


def text_field(obj: dict[str, Any], name: str, grader: str, *, required: bool = True) -> str | None:
    """``obj[name]`` as a string; None when optional and absent; ValueError otherwise."""
    value = obj.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{grader}: '{name}' must be a string" + ("" if required else " when given"))
    return value
