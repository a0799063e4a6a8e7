"""`--executor local|ray`: where a run's samples execute (docs/scale-out.md)."""

from __future__ import annotations

from typing import Any

from crosslab.cli.common import fail


def ray_options(executor: str, address: str | None, workers: int) -> Any:
    """None runs in this process; ``ray`` needs Ray installed (a one-line install hint otherwise)."""
    if executor == "local":
        if address:
            fail("--ray-address needs --executor ray")
        return None
    if executor != "ray":
        fail(f"--executor {executor!r}: choose local or ray")
    from crosslab.run.ray_executor import RayOptions, RayUnavailable, require_ray

    try:
        require_ray()
    except RayUnavailable as exc:
        fail(str(exc))
    return RayOptions(workers, address)
