"""Install a package the way a user would, but into a directory of its own (never the test environment)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def pip_install(source: Path, target: Path) -> None:
    """Build ``source`` with this environment's build backend (hatchling, from the test extras), offline,
    and install it into ``target``; put ``target`` on PYTHONPATH to use it."""
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                             "--no-build-isolation", "--target", str(target), str(source)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
