"""How often the answer grader agrees with human correctness judgments (EVOUNA), beside a substring baseline.

EVOUNA (wangcunxiang/QA-Eval) holds answers of five QA systems to Natural
Questions (NQ) and TriviaQA (TQ) questions, each judged correct or not by a
person. The grader's rules were tuned on TQ only, so NQ is the held-out
figure. Every row is graded by ``crosslab.grading.answer.grade_line`` (what
``crosslab grade answer`` runs); EVOUNA separates a gold's accepted answers
with "/", so the first is the gold and the rest its aliases. The grader's
``correct`` reads as true, ``incorrect`` and ``not_attempted`` as false. The
baseline calls an answer true when one of the accepted answers appears in it
as a case-insensitive substring.

    .venv/bin/python scripts/graders/answer_agreement.py [EVOUNA.jsonl] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from crosslab.grading.answer import grade_line
from crosslab.stats.agreement import Agreement, agreement

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT.parent / "shared" / "datasets" / "judge" / "evouna_qa.jsonl"
CLASSES = ("true", "false")
SPLITS = {"TQ": "TriviaQA (tuned on)", "NQ": "Natural Questions (held out)"}

Row = dict[str, Any]


def load(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def split_of(row: Row) -> str:
    """"TQ" or "NQ", from ids such as ``evouna-NQ-1126-gpt4``."""
    return row["id"].split("-")[1]


def accepted(gold: str) -> list[str]:
    return [g.strip() for g in gold.split("/") if g.strip()] or [gold]


def grader_says(row: Row) -> bool:
    answers = accepted(row["gold"])
    line = {"question": row["question"], "response": row["response"], "gold": answers[0], "aliases": answers[1:]}
    return grade_line(line)["label"] == "correct"


def substring_says(row: Row) -> bool:
    response = row["response"].lower()
    return any(a.lower() in response for a in accepted(row["gold"]))


def _labels(values: Iterable[bool]) -> list[str]:
    return ["true" if v else "false" for v in values]


def compare(rows: list[Row], judged: Callable[[Row], bool]) -> Agreement:
    return agreement(_labels(r["correct"] for r in rows), _labels(map(judged, rows)), CLASSES)


def figures(rows: list[Row]) -> dict[str, Any]:
    """Grader and baseline agreement on ``rows``, once over all of them and once per answering system."""
    grader = {id(r): grader_says(r) for r in rows}
    models = sorted({r["model"] for r in rows})

    def both(subset: list[Row]) -> dict[str, Any]:
        return {"n": len(subset), "grader": compare(subset, lambda r: grader[id(r)]).to_dict(),
                "substring": compare(subset, substring_says).to_dict()}
    return {"all": both(rows), "models": {m: both([r for r in rows if r["model"] == m]) for m in models}}


def _cell(fig: dict[str, Any]) -> str:
    acc = fig["accuracy"]
    return f"{acc['estimate']:.3f} [{acc['low']:.3f}, {acc['high']:.3f}] | {fig['kappa']:.3f}"


def table(name: str, fig: dict[str, Any]) -> str:
    lines = [f"### {name}", "",
             "| rows | n | grader accuracy [95 % CI] | grader kappa | substring accuracy [95 % CI] | substring kappa |",
             "| --- | ---: | --- | ---: | --- | ---: |"]
    for label, part in [("all", fig["all"]), *fig["models"].items()]:
        lines.append(f"| {label} | {part['n']} | {_cell(part['grader'])} | {_cell(part['substring'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT, help="evouna_qa.jsonl")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rows = load(args.path)
    result = {split: figures([r for r in rows if split_of(r) == split]) for split in SPLITS}
    for split, title in SPLITS.items():
        print(table(f"{split}: {title}", result[split]), end="\n\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
