"""Inline SVG charts: no script, no fonts or files fetched, so a report is one offline file.

Each function takes plain numbers and returns an ``<svg>`` string sized for a
page column (it scales with the page and prints cleanly). Colours come from a
palette readable by people with the common colour-vision deficiencies.
"""

from __future__ import annotations

from html import escape

WIDTH = 720
ROW = 22
LEFT = 230
RIGHT = 70
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
OUTCOME_COLOURS = {"good": "#009E73", "bad": "#D55E00", "neutral": "#999999"}


def _svg(height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
            f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="12">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _x(value: float, lo: float, hi: float, left: int = LEFT) -> float:
    span = WIDTH - left - RIGHT
    return left + span * (min(max(value, lo), hi) - lo) / (hi - lo)


def _axis(y: int, lo: float, hi: float, ticks: list[float], fmt: str = "{:.0%}", left: int = LEFT) -> list[str]:
    out = [f'<line x1="{left}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#444"/>']
    for t in ticks:
        x = _x(t, lo, hi, left)
        out.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#444"/>')
        out.append(f'<text x="{x:.1f}" y="{y + 16}" text-anchor="middle">{escape(fmt.format(t))}</text>')
    return out


def interval_chart(rows: list[dict], title: str) -> str:
    """Dot + 95 % whisker per row on a 0–100 % axis: {label, estimate, low, high, note?, colour?}."""
    left = min(380, max(LEFT, 16 + 7 * max((len(str(r["label"])) for r in rows), default=0)))
    height = 30 + ROW * max(1, len(rows)) + 30
    body = [f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>']
    for n, row in enumerate(rows):
        y = 34 + n * ROW
        body.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{escape(str(row["label"]))}</text>')
        body.append(f'<line x1="{left}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#eee"/>')
        if row.get("estimate") is None:
            body.append(f'<text x="{left + 4}" y="{y + 4}" fill="#777">no graded samples</text>')
            continue
        colour = row.get("colour", PALETTE[0])
        if row.get("low") is not None:
            x1, x2 = _x(row["low"], 0, 1, left), _x(row["high"], 0, 1, left)
            body.append(f'<line x1="{x1:.1f}" y1="{y}" x2="{x2:.1f}" y2="{y}" stroke="{colour}" stroke-width="2"/>')
            for x in (x1, x2):
                body.append(f'<line x1="{x:.1f}" y1="{y - 5}" x2="{x:.1f}" y2="{y + 5}" stroke="{colour}"/>')
        body.append(f'<circle cx="{_x(row["estimate"], 0, 1, left):.1f}" cy="{y}" r="4" fill="{colour}"/>')
        note = row.get("note") or f'{row["estimate"]:.1%}'
        body.append(f'<text x="{WIDTH - RIGHT + 6}" y="{y + 4}">{escape(note)}</text>')
    body += _axis(34 + len(rows) * ROW - 8, 0, 1, [0, 0.25, 0.5, 0.75, 1], left=left)
    return _svg(height, body, title)


def heatmap(cells: dict[tuple[str, str], tuple[int, int]], rows: list[str], cols: list[str], title: str) -> str:
    """Share k/n per (row, col), darker = higher; empty cells are blank. Labels show k/n."""
    cell_w = max(40, min(90, (WIDTH - 170) // max(1, len(cols))))
    height = 60 + ROW * len(rows) + 10
    body = [f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>']
    for c, col in enumerate(cols):
        x = 170 + c * cell_w + cell_w / 2
        body.append(f'<text x="{x:.1f}" y="44" text-anchor="middle" font-size="10">{escape(col[:12])}</text>')
    for r, row in enumerate(rows):
        y = 52 + r * ROW
        body.append(f'<text x="164" y="{y + 15}" text-anchor="end">{escape(row)}</text>')
        for c, col in enumerate(cols):
            k, n = cells.get((row, col), (0, 0))
            x = 170 + c * cell_w
            if not n:
                body.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{ROW - 2}" fill="#f4f4f4"/>')
                continue
            share = k / n
            shade = int(245 - 200 * share)
            ink = "#fff" if share > 0.55 else "#000"
            body.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{ROW - 2}" '
                        f'fill="rgb(245,{shade},{shade})"><title>{escape(row)} × {escape(col)}: {k}/{n}</title></rect>')
            body.append(f'<text x="{x + cell_w / 2 - 1:.1f}" y="{y + 15}" text-anchor="middle" font-size="10" '
                        f'fill="{ink}">{k}/{n}</text>')
    return _svg(height, body, title)


def stacked_bars(series: list[tuple[str, dict[str, int]]], order: list[tuple[str, str]], title: str) -> str:
    """One 100 % bar per series; ``order`` = [(label, "good"|"bad"|"neutral")] fixes segment order and colour."""
    height = 50 + ROW * max(1, len(series)) + 20
    body = [f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>']
    lx = LEFT
    for label, kind in order:
        body.append(f'<rect x="{lx}" y="24" width="10" height="10" fill="{OUTCOME_COLOURS[kind]}"/>')
        body.append(f'<text x="{lx + 14}" y="33">{escape(label)}</text>')
        lx += 20 + 8 * len(label)
    for n, (name, counts) in enumerate(series):
        y = 44 + n * ROW
        total = sum(counts.values())
        body.append(f'<text x="{LEFT - 8}" y="{y + 14}" text-anchor="end">{escape(name)}</text>')
        x = float(LEFT)
        for label, kind in order:
            share = counts.get(label, 0) / total if total else 0
            w = (WIDTH - LEFT - RIGHT) * share
            if w > 0:
                body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 4}" '
                            f'fill="{OUTCOME_COLOURS[kind]}"><title>{escape(label)}: {counts.get(label, 0)}/{total}'
                            "</title></rect>")
            x += w
        body.append(f'<text x="{WIDTH - RIGHT + 6}" y="{y + 14}">n={total}</text>')
    return _svg(height, body, title)


def forest(rows: list[dict], title: str) -> str:
    """Differences with intervals on a −100…+100 point axis: {label, difference, low, high, note}."""
    height = 30 + ROW * max(1, len(rows)) + 30
    body = [f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>']
    zero = _x(0, -1, 1)
    bottom = 34 + len(rows) * ROW - 8
    body.append(f'<line x1="{zero:.1f}" y1="24" x2="{zero:.1f}" y2="{bottom}" stroke="#999" stroke-dasharray="3,3"/>')
    for n, row in enumerate(rows):
        y = 34 + n * ROW
        body.append(f'<text x="{LEFT - 8}" y="{y + 4}" text-anchor="end">{escape(row["label"])}</text>')
        if row.get("difference") is None:
            body.append(f'<text x="{LEFT + 4}" y="{y + 4}" fill="#777">not enough pairs</text>')
            continue
        if row.get("low") is not None:
            x1, x2 = _x(row["low"], -1, 1), _x(row["high"], -1, 1)
            body.append(f'<line x1="{x1:.1f}" y1="{y}" x2="{x2:.1f}" y2="{y}" stroke="{PALETTE[0]}" stroke-width="2"/>')
        body.append(f'<rect x="{_x(row["difference"], -1, 1) - 4:.1f}" y="{y - 4}" width="8" height="8" '
                    f'fill="{PALETTE[0]}"/>')
        body.append(f'<text x="{WIDTH - RIGHT + 6}" y="{y + 4}" font-size="10">{escape(row.get("note", ""))}</text>')
    body += _axis(bottom, -1, 1, [-1, -0.5, 0, 0.5, 1], "{:+.0%}")
    return _svg(height, body, title)


def trend(lines: dict[str, list[tuple[float, ...]]], title: str) -> str:
    """Pass rate per round, one line per series, on a 0-100 % axis; (round, rate, low, high) points
    also draw their 95 % interval as a whisker."""
    rounds = sorted({int(p[0]) for points in lines.values() for p in points})
    height = 230
    body = [f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>']
    if len(rounds) < 2:
        return _svg(40, body + ['<text x="4" y="34" fill="#777">one round so far</text>'], title)
    top, bottom = 30, 190

    def xy(r: int, v: float) -> tuple[float, float]:
        x = LEFT + (WIDTH - LEFT - RIGHT) * rounds.index(r) / (len(rounds) - 1)
        return x, bottom - (bottom - top) * v

    for share in (0.0, 0.5, 1.0):  # the axis: gridlines and their labels
        _, y = xy(rounds[0], share)
        body.append(f'<line x1="{LEFT - 6}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(f'<text x="{LEFT - 10}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{share:.0%}</text>')
    for n, (name, points) in enumerate(sorted(lines.items())):
        colour = PALETTE[n % len(PALETTE)]
        ordered = sorted(points)
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(int(p[0]), p[1]) for p in ordered))
        body.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in ordered:
            if len(p) >= 4 and p[2] is not None and p[3] is not None:
                x, y_low = xy(int(p[0]), p[2])
                _, y_high = xy(int(p[0]), p[3])
                body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y_low:.1f}" y2="{y_high:.1f}" '
                            f'stroke="{colour}" stroke-width="1.5"/>')
        body.append(f'<text x="4" y="{top + 14 * n + 10}" fill="{colour}">{escape(name)}</text>')
    for r in rounds:
        x, _ = xy(r, 0)
        body.append(f'<text x="{x:.1f}" y="{bottom + 18}" text-anchor="middle">round {r}</text>')
    return _svg(height, body, title)
