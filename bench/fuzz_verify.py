"""Fuzz `verify_bundle` for longer than the test suite does: random hostile edits to a real bundle.

Every edit must end in one VerificationError (or a pass when the bytes came back unchanged); anything
else is a bug, printed with the seed that reproduces it.

    .venv/bin/python bench/fuzz_verify.py [--seconds 300]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.mutations import FILES, mutate  # noqa: E402
from support.release_bundles import BUNDLES, FIXTURES, borealis_age, pinned  # noqa: E402

from crosslab.attest.errors import VerificationError  # noqa: E402
from crosslab.bundle.installed import installed_definitions  # noqa: E402
from crosslab.bundle.verify import verify_bundle  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300)
    args = parser.parse_args()
    definitions, keys, age = installed_definitions(), pinned(), borealis_age()
    counts = {"refused": 0, "unchanged": 0}
    started = time.perf_counter()
    seed = 0
    with tempfile.TemporaryDirectory() as tmp:
        while time.perf_counter() - started < args.seconds:
            seed += 1
            bundle = Path(tmp) / f"b{seed}"
            shutil.copytree(FIXTURES / BUNDLES[0], bundle)
            rng = random.Random(seed)
            done = [mutate(bundle, rng) for _ in range(rng.randint(1, 3))]
            try:
                verify_bundle(bundle, keys, partner_identity=age, metric_definitions=definitions)
                same = all((bundle / n).read_bytes() == (FIXTURES / BUNDLES[0] / n).read_bytes() for n in FILES)
                if not same:
                    sys.exit(f"BUG seed={seed}: accepted a changed bundle after {done}")
                counts["unchanged"] += 1
            except VerificationError:
                counts["refused"] += 1
            except Exception as exc:  # noqa: BLE001 - that is what this looks for
                sys.exit(f"BUG seed={seed}: {type(exc).__name__}: {exc} after {done}")
            shutil.rmtree(bundle)
    total = sum(counts.values())
    elapsed = time.perf_counter() - started
    print(f"{total:,} mutated bundles in {elapsed:.0f}s ({total / elapsed:.0f}/s): refused {counts['refused']:,}, "
          f"unchanged and accepted {counts['unchanged']:,}, other outcomes 0")
    print(f"RESULT fuzz_cases={total} bugs=0 seconds={elapsed:.0f}")


if __name__ == "__main__":
    main()
