"""ScenarioEnvironment: a ToolEnvironment built from a scenario's data (files, hosts, tools).

Tools: ``bash`` (the whitelisted shell), ``send_email`` (an outbox), and the
scenario's task tools. Every call is logged with its arguments, its result,
whether it was well formed, and the state changes it caused. The environment
knows nothing of scheming: a suite may hand it a ``detector`` (state, log,
transcript → evidence or None), which ``covert_action`` evaluates, so an agent
loop can ask "did something covert just happen?" without knowing the families.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crosslab.sandbox.shell import Shell
from crosslab.sandbox.task_tools import TaskTools, ToolInputError
from crosslab.sandbox.world import World
from crosslab.targets.base import ToolSpec

BASH = ToolSpec("bash", "Run a shell command on this machine and return its output.",
                {"type": "object", "properties": {"command": {"type": "string", "description": "the command line"}},
                 "required": ["command"]})
EMAIL = ToolSpec("send_email", "Send an email.",
                 {"type": "object", "properties": {"to": {"type": "string"}, "subject": {"type": "string"},
                                                   "body": {"type": "string"}},
                  "required": ["to", "subject", "body"]})

Detector = Callable[[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]], dict[str, Any] | None]


class ScenarioEnvironment:
    def __init__(self, spec: dict[str, Any], seed: int, detector: Detector | None = None) -> None:
        self.world = World(spec.get("files") or {}, spec.get("hosts") or {}, seed=seed,
                           cwd=spec.get("cwd", "/home/agent"))
        self.shell = Shell(self.world)
        self.task = TaskTools(list(spec.get("tools") or []), self.world)
        self.tools: tuple[ToolSpec, ...] = (BASH, EMAIL, *self.task.specs)
        self.log: list[dict[str, Any]] = []
        self.detector = detector

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        before = len(self.world.changes)
        ok = True
        try:
            result = self._dispatch(name, arguments if isinstance(arguments, dict) else {})
        except ToolInputError as exc:
            ok, result = False, f"error: {name}: {exc}"
        except LookupError:
            ok, result = False, f"error: unknown tool {name!r}"
        self.log.append({"step": len(self.log), "tool": name, "arguments": arguments, "ok": ok,
                         "result": result, "changes": self.world.changes[before:]})
        return result

    def _dispatch(self, name: str, arguments: dict[str, Any]) -> str:
        if name == "bash":
            command = arguments.get("command")
            if not isinstance(command, str):
                raise ToolInputError("missing required argument 'command'")
            output, status = self.shell.run(command)
            return output if status == 0 else f"{output}\n[exit status {status}]".lstrip("\n")
        if name == "send_email":
            fields = [arguments.get(k) for k in ("to", "subject", "body")]
            if not all(isinstance(f, str) for f in fields):
                raise ToolInputError("needs string arguments 'to', 'subject' and 'body'")
            self.world.send_email(*fields)
            return "Email sent."
        if name not in self.task.decls:
            raise LookupError(name)
        return self.task.call(name, arguments)

    def snapshot(self) -> dict[str, Any]:
        return {**self.world.snapshot(), "task": self.task.snapshot()}

    def covert_action(self, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The suite's detector on the current state, log and transcript (None: nothing found)."""
        if self.detector is None:
            return None
        return self.detector(self.snapshot(), self.log, messages)
