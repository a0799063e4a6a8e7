"""The reviewers' sheet: one row per verdict to review, as CSV (for a spreadsheet) or JSON lines (for tools).

Columns, in order: ``run_id``, ``sample_id``, ``item_id``, ``category``,
``slice``, ``tier``, ``grader``, ``grader_version``, ``label`` (the current
label), ``score``, ``flags`` (why the row is here), ``labels`` (what
``review_label`` may be), ``adjudication`` (digest of an earlier review),
``shown`` (``text`` or ``withheld``), ``prompt``, ``response``, then the two
columns reviewers fill: ``review_label`` and ``reviewer_note``. Import reads
only ids, grader, version, label and the two filled columns, so reviewers
may sort, hide or annotate other columns freely.

CSV is UTF-8 with a byte-order mark (spreadsheets then read it as UTF-8), and
a prompt or response cell starting with ``= + - @`` or a tab gets a leading
``'`` so a spreadsheet shows it as text instead of running it as a formula:
those are model output and test prompts, not trusted input.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crosslab.core.outcome import verdict_score
from crosslab.review.apply import FIELD
from crosslab.review.errors import ReviewError
from crosslab.review.flags import flags_of
from crosslab.review.runview import RunView
from crosslab.review.scoring import labels_for
from crosslab.review.visibility import WITHHELD_TEXT, check_tier, may_read

COLUMNS = ("run_id", "sample_id", "item_id", "category", "slice", "tier", "grader", "grader_version", "label",
           "score", "flags", "labels", "adjudication", "shown", "prompt", "response", "review_label",
           "reviewer_note")
#: What import needs in every sheet.
REQUIRED = ("run_id", "sample_id", "grader", "grader_version", "label", "review_label")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _render(messages: list[dict[str, Any]]) -> str:
    parts = []
    for m in messages:
        text = m.get("content") or ""
        for call in m.get("tool_calls") or []:
            text += f"\n[tool call {call.get('name')} {json.dumps(call.get('arguments') or {}, sort_keys=True)}]"
        who = m["role"] + (f" ({m['name']})" if m.get("name") else "")
        parts.append(f"{who}: {text.strip()}")
    return "\n\n".join(parts)


def _split(record: dict[str, Any]) -> tuple[str, str]:
    """(the conversation before the final answer, the final answer)."""
    messages = list(record["messages"])
    last = max((n for n, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        return _render(messages), ""
    return _render(messages[:last] + messages[last + 1:]), messages[last].get("content") or ""


def sheet_rows(view: RunView, current: dict[str, dict[str, dict[str, Any]]], reviewer_tier: str,
               everything: bool = False) -> list[dict[str, Any]]:
    """Rows for the verdicts that need review (all verdicts with ``everything``), in journal order.

    ``current`` is the verdicts with earlier adjudications applied; without
    ``everything`` a verdict already adjudicated is left out.
    """
    check_tier(reviewer_tier)
    rows = []
    for sid, record in view.records.items():
        if record["status"] != "ok":
            continue
        originals = view.verdicts.get(sid, {})
        for grader in sorted(originals):
            verdict = current[sid][grader]
            flags = flags_of(originals[grader], originals)
            if not everything and (not flags or FIELD in verdict):
                continue
            shown = may_read(record["tier"], reviewer_tier)
            prompt, response = _split(record) if shown else (WITHHELD_TEXT, WITHHELD_TEXT)
            rows.append({
                "run_id": view.ref.run_id, "sample_id": sid, "item_id": record["item_id"],
                "category": record["category"], "slice": record["slice"] or "", "tier": record["tier"],
                "grader": grader, "grader_version": verdict["version"], "label": verdict["label"],
                "score": verdict_score(verdict), "flags": flags, "labels": list(labels_for(grader)),
                "adjudication": (verdict.get(FIELD) or {}).get("digest", ""),
                "shown": "text" if shown else "withheld", "prompt": prompt, "response": response,
                "review_label": "", "reviewer_note": "",
            })
    return rows


def _csv_cell(column: str, value: Any) -> str:
    text = " ".join(value) if isinstance(value, list) else str(value)
    if column in ("prompt", "response") and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def sheet_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ReviewError(f"{path}: a review sheet is .csv or .jsonl, not {suffix or 'a file without a suffix'}")
    return suffix[1:]


def encode_sheet(rows: list[dict[str, Any]], fmt: str) -> bytes:
    if fmt == "jsonl":
        return b"".join(json.dumps({c: r[c] for c in COLUMNS}, ensure_ascii=False).encode() + b"\n" for r in rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([_csv_cell(c, r[c]) for c in COLUMNS])
    return out.getvalue().encode("utf-8-sig")


def read_sheet(path: Path, data: bytes) -> Iterator[tuple[str, dict[str, str]]]:
    """(where, row) for each row of a filled sheet: ``where`` is "FILE row N" (header = row 1) or "FILE line N"."""
    fmt = sheet_format(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReviewError(f"{path}: not UTF-8 text (byte {exc.start}); save the sheet as UTF-8") from None
    if fmt == "csv":
        yield from _read_csv(path, text)
    else:
        yield from _read_jsonl(path, text)


def _check_columns(where: object, present: Any) -> None:
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise ReviewError(f"{where}: the sheet has no column {', '.join(missing)} (export a new sheet)")


def _read_csv(path: Path, text: str) -> Iterator[tuple[str, dict[str, str]]]:
    header = text.split("\n", 1)[0]
    # spreadsheets in some locales save with ";" (or tabs) between cells
    delimiter = max((",", ";", "\t"), key=header.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        _check_columns(path, reader.fieldnames or ())
        for n, row in enumerate(reader, 2):
            if None in row:
                raise ReviewError(f"{path} row {n}: more cells than columns")
            yield f"{path} row {n}", {k: (v or "").strip() for k, v in row.items()}
    except csv.Error as exc:
        raise ReviewError(f"{path}: not a readable CSV sheet ({exc})") from None


def _read_jsonl(path: Path, text: str) -> Iterator[tuple[str, dict[str, str]]]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReviewError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ReviewError(f"{where}: not a JSON object")
        _check_columns(where, row)
        out = {}
        for key, value in row.items():
            if value is not None and not isinstance(value, (str, int, float, list)):
                raise ReviewError(f"{where}: column {key} holds {type(value).__name__}")
            out[key] = "" if value is None else (value.strip() if isinstance(value, str) else value)
        yield where, out
