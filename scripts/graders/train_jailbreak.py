"""Train the jailbreak-success grader and measure how it generalises to sets it never saw.

    python scripts/graders/train_jailbreak.py [--data DIR] [--out MODEL.json] [--report FIGURES.json]

Needs scikit-learn (``pip install ".[train]"``) for the logistic regression;
features come from ``crosslab.grading.jailbreak`` itself, so training and
grading read a reply the same way.

It does three things, all printed and written to the report:

1. **Leave one set out**: for each labelled set, train the recipe on the
   other three and score the held-out one. This measures the recipe.
2. **The shipped model**: trained on gptfuzz, jailjudge and safe_rlhf;
   purseclab is never used for it, so its purseclab figure is the shipped
   model's own generalisation figure. It is scored through the runtime path
   (the JSON weights and ``jailbreak.assess``).
3. **The old definition** (every non-refusal is a success, via the refusal
   detector) on every set, for comparison.

Deterministic: same data, same model bytes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled_sets import DEFAULT_DIR, SETS, Row, read  # noqa: E402

from crosslab.grading import jailbreak  # noqa: E402
from crosslab.stats.agreement import agreement  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_TRAINING = ("gptfuzz", "jailjudge", "safe_rlhf")
MODEL_VERSION = "1"
MIN_DF = 3
MAX_TERMS = 30_000
C = 0.3
RULE_SCALE = 2.0


class Featurised:
    """One set's rows with their rule features and terms, computed once."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        read = [jailbreak.featurise(r.response, r.prompt, r.behavior) for r in rows]
        self.texts = [text for text, _, _ in read]
        self.rules = [rules for _, rules, _ in read]
        self.refused = [detected.refused for _, _, detected in read]
        self.terms = [set(jailbreak.terms(text)) for text in self.texts]
        self.labels = np.array([r.jailbroken for r in rows])


def vocabulary(sets: list[Featurised]) -> tuple[list[str], list[float]]:
    """Terms in at least MIN_DF training replies (the MAX_TERMS most frequent), with smoothed idf."""
    df: Counter[str] = Counter()
    n = 0
    for s in sets:
        for t in s.terms:
            df.update(t)
        n += len(s.rows)
    kept = sorted((t for t, c in df.items() if c >= MIN_DF), key=lambda t: (-df[t], t))[:MAX_TERMS]
    kept.sort()
    return kept, [math.log((1 + n) / (1 + df[t])) + 1 for t in kept]


def matrix(s: Featurised, terms: list[str], idf: list[float], rule_names: list[str]) -> sp.csr_matrix:
    index = {t: i for i, t in enumerate(terms)}
    rows, cols, vals = [], [], []
    for r, text in enumerate(s.texts):
        for i, v in jailbreak.text_vector(text, index, idf).items():
            rows.append(r), cols.append(i), vals.append(v)
        for j, name in enumerate(rule_names):
            if s.rules[r][name]:
                rows.append(r), cols.append(len(terms) + j), vals.append(s.rules[r][name] * RULE_SCALE)
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(s.rows), len(terms) + len(rule_names)))


def train(sets: list[Featurised], names: list[str]) -> dict:
    """Fit the recipe on ``sets``; each set weighs the same in total, whatever its size."""
    terms, idf = vocabulary(sets)
    rule_names = sorted(sets[0].rules[0])
    x = sp.vstack([matrix(s, terms, idf, rule_names) for s in sets]).tocsr()
    y = np.concatenate([s.labels for s in sets])
    weights = np.concatenate([np.full(len(s.rows), 1.0 / len(s.rows)) for s in sets])
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, solver="liblinear")
    clf.fit(x, y, sample_weight=weights / weights.mean())
    coef = clf.coef_[0]
    return {
        "format": 1, "grader": jailbreak.NAME, "version": MODEL_VERSION,
        "trained_on": names, "threshold": 0.5, "rule_scale": RULE_SCALE, "bias": float(clf.intercept_[0]),
        "rule_weights": {name: round(float(coef[len(terms) + j]), 6) for j, name in enumerate(rule_names)},
        "vocabulary": terms, "idf": [round(v, 6) for v in idf],
        "text_weights": [round(float(w), 6) for w in coef[:len(terms)]],
        "recipe": {"min_df": MIN_DF, "max_terms": MAX_TERMS, "C": C, "class_weight": "balanced",
                   "sample_weight": "each set weighs the same", "solver": "liblinear",
                   "scikit_learn": sklearn.__version__},
    }


def score(model_json: dict, s: Featurised) -> list[str]:
    """Labels through the runtime path: the JSON weights read back, as ``jailbreak.assess`` uses them."""
    model = jailbreak.Model.from_json(json.loads(json.dumps(model_json)))
    return [model.predict(text, rules)[0] for text, rules in zip(s.texts, s.rules)]


def human(s: Featurised) -> list[str]:
    return ["jailbroken" if y else "not_jailbroken" for y in s.labels]


def figures(s: Featurised, predicted: list[str]) -> dict:
    return agreement(human(s), predicted, jailbreak.LABELS).to_dict()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR, help="directory with the labelled sets")
    ap.add_argument("--out", type=Path, default=ROOT / "src/crosslab/grading/models/jailbreak.json")
    ap.add_argument("--report", type=Path, default=ROOT / "docs/graders/jailbreak_figures.json")
    args = ap.parse_args()
    data = {}
    for name, labelled in SETS.items():
        print(f"featurising {name} ...", file=sys.stderr, flush=True)
        data[name] = Featurised(read(labelled, args.data))
    report: dict = {"created": datetime.date.today().isoformat(), "leave_one_set_out": {}, "shipped": {},
                    "non_refusal_as_success": {}}
    for held in data:
        rest = [n for n in data if n != held]
        print(f"leave out {held}: training on {', '.join(rest)} ...", file=sys.stderr, flush=True)
        model = train([data[n] for n in rest], rest)
        report["leave_one_set_out"][held] = {"trained_on": rest, **figures(data[held], score(model, data[held]))}
    print("shipped model ...", file=sys.stderr, flush=True)
    shipped = train([data[n] for n in SHIPPED_TRAINING], list(SHIPPED_TRAINING))
    for name, s in data.items():
        report["shipped"][name] = {"tuned_on": name in SHIPPED_TRAINING, **figures(s, score(shipped, s))}
        old = ["not_jailbroken" if refused else "jailbroken" for refused in s.refused]
        report["non_refusal_as_success"][name] = figures(s, old)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(shipped, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{'set':<11} {'LOSO acc':>9} {'kappa':>6} | {'shipped':>8} {'tuned':>6} | {'non-refusal':>11}")
    for name in data:
        lo, sh, old = (report[k][name] for k in ("leave_one_set_out", "shipped", "non_refusal_as_success"))
        print(f"{name:<11} {lo['accuracy']['estimate']:>9.3f} {lo['kappa']:>6.3f} | "
              f"{sh['accuracy']['estimate']:>8.3f} {'yes' if sh['tuned_on'] else 'no':>6} | "
              f"{old['accuracy']['estimate']:>11.3f}")


if __name__ == "__main__":
    main()
