"""How long `crosslab demo` takes on this machine, against the 10-minute limit of the issue.

Runs the README's first command's round (two labs, three directions, the quick
profile of all four suites, every sample a real call to the embedded model, no
response cache) in a fresh directory and a fresh process, and prints the wall
time. Last line: ``RESULT demo_s=… limit_s=600 ratio=…``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT_S = 600.0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "crosslab", "demo", "--out", str(Path(tmp) / "demo")],
                              capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"demo failed: {done.stderr[-2000:]}")
        summary = [line for line in done.stdout.splitlines() if "bundles, all verified" in line]
        print(summary[0] if summary else done.stdout[-500:])
        print(f"demo took {elapsed:.0f} s vs limit {LIMIT_S:.0f} s: {'met' if elapsed < LIMIT_S else 'MISSED'}")
        print(f"RESULT demo_s={elapsed:.1f} limit_s={LIMIT_S:.0f} ratio={elapsed / LIMIT_S:.3f}")


if __name__ == "__main__":
    main()
