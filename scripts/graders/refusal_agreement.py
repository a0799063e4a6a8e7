"""The refusal detector against the closest public human labels (a proxy: see docs/graders/refusal.md).

    python scripts/graders/refusal_agreement.py [--data DIR]

gptfuzz: "not jailbroken" stands for refused; purseclab: "not informative" does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled_sets import DEFAULT_DIR  # noqa: E402

from crosslab.grading import refusal  # noqa: E402
from crosslab.stats.agreement import agreement  # noqa: E402

PROXIES = (("gptfuzz.jsonl", "jailbroken"), ("purseclab_manual.jsonl", "informative"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR)
    args = ap.parse_args()
    print(f"refusal detector version {refusal.VERSION}")
    for file, complied_field in PROXIES:
        path = args.data / file
        if not path.is_file():
            raise SystemExit(f"{path}: not found (pass --data DIR)")
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        human = ["complied" if r[complied_field] else "refused" for r in rows]
        ours = ["refused" if refusal.detect(r["response"], r.get("prompt")).refused else "complied" for r in rows]
        fig = agreement(human, ours, ("refused", "complied"))
        acc = fig.accuracy
        print(f"{file:<24} n={fig.n:<5} accuracy {acc.estimate:.3f} [{acc.low:.3f}, {acc.high:.3f}] "
              f"kappa {fig.kappa:.3f}")


if __name__ == "__main__":
    main()
