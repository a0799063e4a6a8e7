"""Verify a bundle of 100,000 stubs; the target is under 3 s on the 2-core reference machine.

Builds a synthetic but real bundle (a journal of 100,000 graded samples, a
protocol signed by two labs, the bundle writer) outside the clock, then times
`verify_bundle` with the partner's key (so restricted items are decrypted and
checked too). The last line is ``RESULT …``.

    .venv/bin/python bench/verify_bundle.py [--n 100000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crosslab.bundle.installed import installed_definitions
from crosslab.bundle.verify import verify_bundle
from crosslab.bundle.writer import Direction, write_bundle
from crosslab.engine.journal import Journal
from crosslab.identity.keystore import Keystore
from crosslab.protocol.schema import Protocol
from crosslab.protocol.signing import sign_protocol
from crosslab.items.item import Item
from crosslab.suites.registry import get_suite, items_digest, suite_names
from crosslab.targets.registry import parse_target

LIMIT_S = 3.0
TIERS = ("public", "public", "public", "restricted", "withheld")


def build(root: Path, n: int) -> tuple[Path, dict, object]:
    store = Keystore(root / "keys")
    ids = {lab: store.create(lab, lab.upper()) for lab in ("lab-a", "lab-b")}
    # real suites' categories, slices and facets, so every suite's metrics run on the stubs as in a round
    real = [i for name in ("instruction_hierarchy", "jailbreak", "hallucination", "scheming")
            if name in suite_names() for i in get_suite(name).items()]
    items = [Item.model_validate({"id": f"q{i}", "input": f"question {i}", "expected": "x",
                                  "category": real[i % len(real)].category if real else f"c{i % 4}",
                                  "slice": real[i % len(real)].slice if real else f"s{i % 3}",
                                  "facets": real[i % len(real)].facets if real else {},
                                  "tier": TIERS[i % 5]}) for i in range(n)]
    target = {"provider": "baseline", "model": "comply-all"}
    deployment = parse_target("baseline:comply-all")
    protocol = Protocol.model_validate({
        "title": "bench", "round": {"number": 1, "date": "2026-11-24"},
        "participants": [{"identity": ids[lab].model_dump(mode="json"),
                          "deployments": [{"name": f"{lab}-prod", "target": target}]} for lab in ids],
        "suites": [{"name": "bench", "digest": items_digest(items)}],
    })
    envelope = None
    for lab in ids:
        envelope = sign_protocol(protocol, lab, store.signing_key(lab), envelope)
    journal = Journal.create(root / "run", {"run_id": "bench", "created_at": "2026-11-24T00:00:00Z",
                                            "target_digest": deployment.digest, "source": {"suite": "bench"},
                                            "epochs": 1, "deployment": deployment.model_dump(mode="json"),
                                            "items_digest": items_digest(items)}, items)
    verdicts = []
    for i, item in enumerate(items):
        sid = f"s{i:06d}"
        text = f"ECHO: question {i}"
        journal.write({"sample_id": sid, "item_id": item.id, "category": item.category, "slice": item.slice,
                       "tier": item.tier, "facets": item.facets, "variant": "", "epoch": 1, "target": deployment.digest,
                       "interaction": "single_turn", "status": "ok", "error": None,
                       "messages": [{"role": "user", "content": f"question {i}"},
                                    {"role": "assistant", "content": text}],
                       "stats": {"calls": 1, "cached_calls": 0, "retries": 0,
                                 "usage": {"input_tokens": 3, "output_tokens": 4}, "latency_s": 0.01}})
        verdicts.append((sid, "includes", {"grader": "includes", "version": "1", "label": "pass" if i % 3 else "fail",
                                           "score": 1.0 if i % 3 else 0.0, "evidence": {}}))
    journal.write_verdicts(verdicts)
    # the bench suite isn't installed: pin check happens at run time, not in the bundle writer
    bundle = write_bundle(root / "bundle", journals=[journal], protocol=protocol, protocol_envelope=envelope,
                          direction=Direction("lab-a", "lab-b", "lab-b-prod"), signing_key=store.signing_key("lab-a"))
    return bundle, {lab: store.public_identity(lab) for lab in ids}, store.age_identity("lab-b")


def main() -> None:  # noqa: D103
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--verify", type=Path, help=argparse.SUPPRESS)  # internal: time a built bundle
    args = parser.parse_args()
    if args.verify:
        time_verify(args.verify)
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        build(Path(tmp), args.n)
        print(f"built a bundle of {args.n:,} stubs in {time.perf_counter() - started:.1f}s (not timed)")
        # verify in a fresh process, as a buyer's `crosslab verify` would (not in the builder's bloated heap)
        out = subprocess.run([sys.executable, __file__, "--verify", tmp], capture_output=True, text=True, check=True)
        print(out.stdout, end="")


def time_verify(root: Path) -> None:
    store = Keystore(root / "keys")
    pinned = {lab: store.public_identity(lab) for lab in ("lab-a", "lab-b")}
    partner = store.age_identity("lab-b")
    times = []
    for _ in range(3):
        started = time.perf_counter()
        report = verify_bundle(root / "bundle", pinned, partner_identity=partner,
                               metric_definitions=installed_definitions())
        times.append(time.perf_counter() - started)
    best = min(times)
    print(f"verified: {report.stubs:,} stubs, public {report.public_verified:,}, restricted "
          f"{report.restricted_verified:,}, withheld {report.withheld:,}")
    print(f"runs: {', '.join(f'{t:.2f}s' for t in times)}; best {best:.2f}s vs limit {LIMIT_S:g}s: "
          f"{'met' if best < LIMIT_S else 'MISSED'}")
    print(f"RESULT verify_s={best:.3f} stubs={report.stubs} limit_s={LIMIT_S:g} ratio={best / LIMIT_S:.3f}")


if __name__ == "__main__":
    main()
