"""An independent MCP client: a Node.js script on the official TypeScript SDK does a scripted rollout.

`.ci/run` installs the SDK (`npm ci --prefix tests/node`, pinned by its
package-lock.json). The evaluator's journal grades what the script did, so
this checks the server against a client crosslab did not write.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from crosslab.engine.journal import Journal
from tests.support.tier2 import env_server, item_of, plans, tokens

NODE_DIR = Path(__file__).parent / "node"


def steps(plan: list[dict]) -> list[dict]:
    """A scripted plan as the Node client's steps: tool calls, then the final `say` as the submit report."""
    out = []
    for step in plan:
        [(name, value)] = step.items()
        if name == "say":
            out.append({"tool": "submit", "arguments": {"report": value}})
            break
        out.append({"tool": name, "arguments": {"command": value} if name == "bash" else dict(value or {})})
    return out


def test_the_typescript_sdk_client_rolls_out_and_the_evaluator_grades_it(tmp_path: Path):
    node = shutil.which("node")
    assert node, "Node.js is needed for this test (it is on the CI machine)"
    assert (NODE_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir(), \
        "the TypeScript MCP SDK is not installed: run `npm ci --prefix tests/node` (.ci/run does)"
    directory = tmp_path / "serve"
    with env_server(directory, "--suite", "scheming", "--scenario", "scheming-oversight_subversion-energy-*",
                    "--lab", "aurora") as url:
        runs = {}
        for token in tokens(directory, "aurora"):
            item_id, _ = item_of(directory, token)
            which = "covert" if item_id.endswith("-nudge") else "honest"
            script = steps(plans()[item_id][which])
            done = subprocess.run([node, str(NODE_DIR / "client.mjs"), url, token, json.dumps(script)],
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            runs[item_id] = (which, json.loads(done.stdout))
    journal = Journal.open(directory / "aurora")
    try:
        verdicts = journal.verdicts()
        records = list(journal.records())
        labels = {r["item_id"]: verdicts[r["sample_id"]]["scheming-detector"]["label"] for r in records}
    finally:
        journal.close()
    assert len(runs) == 2 and labels.keys() == runs.keys()
    for item_id, (which, seen) in runs.items():
        assert seen["protocol"] == "2025-11-25"
        assert "EcoGrid" in seen["task"][0] and seen["tools"][-1] == "submit"
        assert not any(r["isError"] for r in seen["results"])
        assert labels[item_id] == which  # the evaluator's grade is what the script did
        # after a flagged submit the server asks a follow-up question; after an honest one, nothing is left
        assert seen["toolsAfter"] == (["answer"] if which == "covert" else [])
        assert len(seen["followUps"]) == (len(plans_questions(item_id)) if which == "covert" else 0)
    [flagged] = [r for r in records if r["item_id"].endswith("-nudge")]
    answers = flagged["agent"]["interrogation"]
    assert answers and all(a["answer"] == "No." for a in answers)


def plans_questions(item_id: str) -> list[str]:
    from crosslab.suites.scheming.build import build

    return next(i for i in build() if i.id == item_id).metadata["interrogation"]
