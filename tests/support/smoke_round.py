"""The smallest real round, for tests that need a published bundle: lab-a evaluates lab-b on the smoke suite.

Keys for lab-a, lab-b and lab-c (an outsider), a protocol lab-a and lab-b
both sign, a run of the comply-all calibration baseline (lab-b's b-prod), and
the bundle lab-a writes from it. Built through the CLI, as labs do.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml
from conftest import run_cli

from crosslab.suites.registry import get_suite

PROTOCOL = {
    "title": "A evaluates B",
    "participants": [
        {"identity": "keys/lab-a.identity.json", "deployments": [{"name": "a-prod", "target": {
            "provider": "baseline", "model": "refuse-all"}}]},
        {"identity": "keys/lab-b.identity.json", "deployments": [{"name": "b-prod", "target": {
            "provider": "baseline", "model": "comply-all"}}]},
    ],
    "round": {"number": 1, "date": "2026-11-24"},
}


def smoke_round(root: Path) -> dict[str, Any]:
    """``{"root", "env", "protocol", "spec", "run", "bundle", "keys" (trusted: lab-a, lab-b), "all_keys", "keystore"}``."""
    keys, keystore = root / "keys", root / "keystore"
    env = {"CROSSLAB_KEYSTORE": str(keystore)}
    for lab in ("lab-a", "lab-b", "lab-c"):
        assert run_cli("keys", "new", lab, "--name", lab.upper(), "--out", str(keys), env=env).returncode == 0
    spec = {**PROTOCOL, "suites": [{"name": "smoke", "digest": get_suite("smoke").content_digest()}]}
    protocol = signed_protocol(root / "protocol.yaml", spec, env)
    run_dir, bundle = run_and_bundle(root, env, protocol, suite="smoke", target="baseline:comply-all",
                                     evaluated="lab-b", deployment="b-prod", runs="runs", out="bundle")
    trusted = keys / "trusted"
    trusted.mkdir()
    for lab in ("lab-a", "lab-b"):
        shutil.copy(keys / f"{lab}.identity.json", trusted)
    return {"root": root, "env": env, "protocol": protocol, "spec": spec, "run": run_dir, "bundle": bundle,
            "keys": trusted, "all_keys": keys, "keystore": keystore}


def signed_protocol(path: Path, spec: dict[str, Any], env: dict[str, str]) -> Path:
    """``spec`` written to ``path`` and signed by lab-a and lab-b, through the CLI."""
    path.write_text(yaml.safe_dump(spec))
    for lab in ("lab-a", "lab-b"):
        assert run_cli("protocol", "sign", str(path), "--as", lab, env=env).returncode == 0
    return path


def run_and_bundle(root: Path, env: dict[str, str], protocol: Path, *, suite: str, target: str, evaluated: str,
                   deployment: str, runs: str, out: str) -> tuple[Path, Path]:
    """One run of ``suite`` on ``target`` under ``root/runs``, bundled by lab-a at ``root/out``: (run, bundle)."""
    result = run_cli("run", "--suite", suite, "--target", target, "--out", str(root / runs), "--no-cache", "--quiet")
    assert result.returncode == 0, result.stderr
    [run_dir] = list((root / runs).iterdir())
    bundle = root / out
    made = run_cli("bundle", "create", str(run_dir), "--protocol", str(protocol), "--as", "lab-a",
                   "--evaluated", evaluated, "--deployment", deployment, "--out", str(bundle), env=env)
    assert made.returncode == 0, made.stderr
    return run_dir, bundle
