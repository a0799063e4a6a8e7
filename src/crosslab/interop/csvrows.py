"""Read a public dataset's CSV file strictly: every problem is one line naming the file, row and column.

Public benchmark files arrive from many mirrors, re-saved by spreadsheets and
truncated by downloads. A row that silently lost a cell would become an item
with the wrong prompt, so nothing is guessed: the header must hold the columns
the format needs, each row must have as many cells as the header, and a cell the
format needs must not be empty.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from crosslab.interop.errors import InteropError

#: A dataset file larger than this is not one of the supported public files.
MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Row:
    """One data row: its number (1 = the first row after the header), its first line, and its cells."""

    file: str
    number: int
    line: int
    cells: dict[str, str]

    def where(self, column: str | None = None) -> str:
        at = f"{self.file}: row {self.number} (line {self.line})"
        return f"{at}, column {column!r}" if column else at

    def get(self, column: str) -> str:
        """The cell, stripped; empty when the column is optional and blank."""
        return (self.cells.get(column) or "").strip()

    def need(self, column: str) -> str:
        """The cell, which must not be blank."""
        value = self.get(column)
        if not value:
            raise InteropError(f"{self.where(column)}: empty, but the format needs it")
        return value


def read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InteropError(f"{path}: {size:,} bytes, larger than any supported dataset file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InteropError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InteropError(f"{path}: a directory, not a CSV file") from None
    except OSError as exc:
        raise InteropError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InteropError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def csv_rows(path: Path, required: Sequence[str]) -> Iterator[Row]:
    """Each data row of the CSV file at ``path``, after checking the header holds ``required``.

    Cells larger than the csv module's field limit (128 KiB, far above any cell of
    the supported files) are reported as invalid CSV rather than read.
    """
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InteropError(f"{path}: empty file (expected a header with {', '.join(required)})") from None
    except csv.Error as exc:
        raise InteropError(f"{path}: line 1: not valid CSV ({exc})") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise InteropError(f"{path}: the header lacks column{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(repr(c) for c in missing)} (it has {', '.join(repr(h) for h in header)})")
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise InteropError(f"{path}: the header repeats column {dupes[0]!r}")
    number, start = 0, reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InteropError(f"{path}: row {number + 1} (line {start}): not valid CSV ({exc})") from None
        if not any(c.strip() for c in cells):  # a blank line between rows
            start = reader.line_num + 1
            continue
        number += 1
        row = Row(str(path), number, start, dict(zip(header, cells)))
        if len(cells) != len(header):
            raise InteropError(f"{row.where()}: {len(cells)} cells, but the header has {len(header)} columns")
        yield row
        start = reader.line_num + 1
    if number == 0:
        raise InteropError(f"{path}: no data rows after the header")
