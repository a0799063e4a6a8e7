"""`crosslab export results`: a verified bundle's metrics as Every Eval Ever JSON or a flat CSV table.

Both formats are views of the verifier's result (``interop.verified``): the
bundle is verified first with the reader's pinned keys and an unverified one is
never exported. The CSV is for spreadsheets: one row per metric row, generic
pass rates and suite metrics alike, quoted as RFC 4180 says (CRLF line ends,
fields with commas, quotes or line breaks in double quotes).
"""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from crosslab.core.atomic import write_atomically
from crosslab.interop.eee import eee_record
from crosslab.interop.errors import InteropError
from crosslab.interop.metric_rows import TIERS, direction, metric_rows
from crosslab.interop.verified import VerifiedBundle

FORMATS = ("eee", "csv")
CSV_COLUMNS = ("direction", "evaluator", "evaluated", "deployment", "round", "suite", "category", "metric", "slice",
               "value", "low", "high", "level", "method", "n", "k", *(f"tier_{t}" for t in TIERS))


def _cell(value: Any) -> str:
    """Empty for None; floats as Python writes them (the shortest text that reads back to the same float)."""
    return "" if value is None else str(value)


def csv_text(bundle: VerifiedBundle) -> str:
    r = bundle.result
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    for row in metric_rows(bundle):
        tiers = row.tiers or {}
        writer.writerow([_cell(v) for v in (
            direction(bundle), r.evaluator, r.evaluated, r.deployment, r.round["number"], row.suite, row.category,
            row.metric, row.slice, row.value, row.low, row.high, row.level, row.method, row.n, row.k,
            *(tiers.get(t) for t in TIERS))])
    return out.getvalue()


def render(bundle: VerifiedBundle, fmt: str, retrieved: int | None = None) -> bytes:
    """The export's bytes in ``fmt`` (``eee`` or ``csv``)."""
    if fmt == "csv":
        return csv_text(bundle).encode("utf-8")
    if fmt == "eee":
        record = eee_record(bundle, int(time.time()) if retrieved is None else retrieved)
        return orjson.dumps(record, option=orjson.OPT_INDENT_2) + b"\n"
    raise InteropError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def write_results(bundle: VerifiedBundle, fmt: str, out: Path | None) -> int:
    """Write the export to ``out`` (atomically) or to stdout; returns the number of metric rows it holds."""
    data = render(bundle, fmt)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            write_atomically(out, data)
        except OSError as exc:
            raise InteropError(f"{out}: cannot be written ({exc.strerror or exc})") from None
    if fmt == "eee":
        return len(orjson.loads(data)["evaluation_results"])
    return len(metric_rows(bundle))
