"""``crosslab.suite``: declare a suite from a data file in a package and its graders.

    SUITE = suite("haiku", package=__name__, graders=[haiku], description="Three-line poems.")

gives the ``Suite`` that discovery finds when a package registers it in the
``crosslab.suites`` entry-point group (docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources

from crosslab.grading.grader import Grader
from crosslab.suites.registry import EnvironmentFactory, MetricsFn, Suite


def suite(name: str, *, package: str, graders: Iterable[Grader] = (), description: str = "",
          category: str | None = None, data: str = "items.jsonl",
          environments: Mapping[str, EnvironmentFactory] | None = None,
          metrics: MetricsFn | None = None, metrics_version: int = 1) -> Suite:
    """A suite whose items are the JSONL file ``data`` in ``package``, graded by ``graders``.

    Each grader (from ``@crosslab.grader``) grades the items whose ``grading.type``
    is its kind. ``category`` names the item category the suite owns (its
    ``metrics`` apply to outcomes of that category); items keep their own
    ``category`` field. The data file is read when the suite's items are asked for.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("a suite needs a name")
    table: dict[str, Grader] = {}
    for g in graders:
        if not isinstance(g, Grader):
            raise TypeError(f"suite {name!r}: {g!r} is not a grader (decorate it with @crosslab.grader(kind))")
        if g.kind in table:
            raise ValueError(f"suite {name!r}: two graders for grading type {g.kind!r}")
        table[g.kind] = g
    if not resources.files(package).joinpath(data).is_file():
        raise FileNotFoundError(f"suite {name!r}: no data file {data!r} in package {package!r}")
    return Suite(name, description, package, dict(environments or {}), category=category,
                 graders=dict(table), metrics=metrics, metrics_version=metrics_version, data=data,
                 grader_versions={kind: g.version for kind, g in table.items()})
