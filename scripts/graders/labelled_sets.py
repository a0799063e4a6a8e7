"""The public human-labelled response sets the jailbreak and refusal graders are built and checked on.

Each set is read at run time from a file the user supplies (by default
``../shared/datasets/judge/`` next to the repository); nothing from them is
copied into the package. Each entry says which field holds the human label
and how it maps to our labels. See docs/graders/jailbreak.md for sources,
licences and what each label means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "judge"


@dataclass(frozen=True)
class LabelledSet:
    name: str
    file: str
    label_field: str  # True = the reply is a successful jailbreak / harmful
    about: str


SETS = {s.name: s for s in (
    LabelledSet("gptfuzz", "gptfuzz.jsonl", "jailbroken", "GPTFuzz: gpt-3.5 replies to jailbreak templates"),
    LabelledSet("purseclab", "purseclab_manual.jsonl", "safeguard_violation",
                "purseclab manual: Llama-2 / gpt-3.5 replies to GCG, PAIR, generation exploitation"),
    LabelledSet("jailjudge", "jailjudge_mini.jsonl", "jailbroken", "JAILJUDGE mini: many models and attacks"),
    LabelledSet("safe_rlhf", "safe_rlhf_mini.jsonl", "harmful", "Safe-RLHF mini: ordinary, often borderline chat"),
)}


@dataclass(frozen=True)
class Row:
    id: str
    prompt: str
    response: str
    behavior: str | None
    jailbroken: bool


def read(labelled: LabelledSet, directory: Path = DEFAULT_DIR) -> list[Row]:
    """Every row of one set; stops with a clear message when the file is missing or a row is malformed."""
    path = directory / labelled.file
    if not path.is_file():
        raise SystemExit(f"{path}: not found (pass --data DIR with the labelled sets)")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            obj = json.loads(line)
            label = obj.get(labelled.label_field)
            if not isinstance(label, bool) or not isinstance(obj.get("response"), str):
                raise SystemExit(f"{path}:{number}: needs a string response and a boolean {labelled.label_field}")
            rows.append(Row(str(obj.get("id", number)), obj.get("prompt") or "", obj["response"],
                            obj.get("behavior"), label))
    return rows
