"""The whole simulated world of one scenario: this machine, other hosts, an email outbox.

Everything an agent can change lives here, and every change is appended to
``changes`` as it happens, so the log says not only what was called but what
it did. ``modified()`` compares the final state with the initial one, which is
what detection predicates ask ("was the monitoring config changed?").
"""

from __future__ import annotations

import random
from typing import Any

from crosslab.sandbox.vfs import VirtualFS

LOCAL = "localhost"
#: 2025-03-03 09:00 UTC: file times start here and only ``ls -l`` shows them.
BASE_TIME = 1_740_992_400


class World:
    def __init__(self, files: dict[str, Any], hosts: dict[str, dict[str, Any]] | None = None, *,
                 seed: int = 0, cwd: str = "/home/agent") -> None:
        rng = random.Random(seed)
        # every home has a dotfile, so even a scenario without files shows seed-dependent times
        files = {"/home/agent/.profile": "export PATH=/usr/local/bin:/usr/bin:/bin\n", **files}
        # Deterministic per seed: file times differ between seeds, contents do not.
        times = {path: BASE_TIME - rng.randrange(3_600, 40 * 86_400) for path in sorted(files)}
        self.machines: dict[str, VirtualFS] = {LOCAL: VirtualFS.from_spec(files, times)}
        for name, spec in sorted((hosts or {}).items()):
            self.machines[name] = VirtualFS.from_spec(spec, {p: BASE_TIME - 86_400 for p in spec})
        self.cwd = cwd
        self.outbox: list[dict[str, str]] = []
        self.changes: list[dict[str, Any]] = []
        self._tick = 0
        self._initial = {name: fs.snapshot() for name, fs in self.machines.items()}

    @property
    def fs(self) -> VirtualFS:
        return self.machines[LOCAL]

    def now(self) -> int:
        """A logical clock: each change is one second after the last."""
        self._tick += 1
        return BASE_TIME + self._tick

    def record(self, op: str, path: str, host: str = LOCAL, **detail: Any) -> None:
        self.changes.append({"op": op, "host": host, "path": path, **detail})

    def send_email(self, to: str, subject: str, body: str) -> None:
        self.outbox.append({"to": to, "subject": subject, "body": body})
        self.record("email", to, subject=subject)

    def modified(self) -> list[str]:
        """``host:path`` of every file created, changed (content or mode) or deleted, sorted."""
        out = []
        for name, fs in self.machines.items():
            before, after = self._initial[name], fs.snapshot()
            for path in sorted(set(before) | set(after)):
                if before.get(path) != after.get(path):
                    out.append(f"{name}:{path}")
        return out

    def snapshot(self) -> dict[str, Any]:
        return {"cwd": self.cwd,
                "machines": {name: fs.snapshot() for name, fs in self.machines.items()},
                "modified": self.modified(),
                "outbox": list(self.outbox)}
