"""Verify an evidence package of 100 bundles; the goal is at most 2 s on the 2-core reference machine.

Outside the clock: one protocol signed by lab-a and lab-b, 100 real bundles
(lab-a evaluating lab-b, each from its own journal of --stubs graded
samples, written by the bundle writer), each published to a real registry
(SQLite, `crosslab registry serve` on 127.0.0.1, the submission path runs
the offline verifier on each), a package for lab-b made with `evidence
pack` over HTTP, and two witnesses' cosignatures added. On the clock:
`verify_package` in a fresh process (best of 3), and the whole `crosslab
evidence verify` command once (interpreter start and imports included).
The last line is ``RESULT …``.

    .venv/bin/python bench/evidence.py [--bundles 100] [--stubs 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from crosslab.bundle.writer import Direction, write_bundle
from crosslab.engine.journal import Journal
from crosslab.evidence import Trust, decode_package, encode_package, pack, verify_package
from crosslab.identity.keystore import Keystore
from crosslab.items.item import Item
from crosslab.protocol.schema import Protocol
from crosslab.protocol.signing import sign_protocol
from crosslab.registry.archive import pack_bundle
from crosslab.suites.registry import items_digest
from crosslab.targets.registry import parse_target
from crosslab.transparency import LogKey, WitnessKey
from crosslab.transparency.note import split_note

GOAL_S = 2.0
TIERS = ("public", "public", "public", "restricted", "withheld")


def build_bundles(root: Path, bundles: int, stubs: int) -> list[Path]:
    store = Keystore(root / "keys")
    ids = {lab: store.create(lab, lab.upper()) for lab in ("lab-a", "lab-b")}
    items = [Item.model_validate({"id": f"q{i}", "input": f"question {i}", "expected": "x", "category": "bench",
                                  "slice": f"s{i % 3}", "tier": TIERS[i % 5]}) for i in range(stubs)]
    deployment = parse_target("baseline:comply-all")
    protocol = Protocol.model_validate({
        "title": "evidence bench", "round": {"number": 1, "date": "2026-12-03"},
        "participants": [{"identity": ids[lab].model_dump(mode="json"), "deployments": [
            {"name": f"{lab}-prod", "target": {"provider": "baseline", "model": "comply-all"}}]} for lab in ids],
        "suites": [{"name": "bench", "digest": items_digest(items)}],
    })
    envelope = None
    for lab in ids:
        envelope = sign_protocol(protocol, lab, store.signing_key(lab), envelope)
    out = []
    for b in range(bundles):
        journal = Journal.create(root / f"run-{b}", {
            "run_id": f"bench-{b}", "created_at": "2026-12-03T00:00:00Z", "target_digest": deployment.digest,
            "source": {"suite": "bench"}, "epochs": 1, "deployment": deployment.model_dump(mode="json"),
            "items_digest": items_digest(items)}, items)
        verdicts = []
        for i, item in enumerate(items):
            sid = f"b{b}-s{i:05d}"
            journal.write({"sample_id": sid, "item_id": item.id, "category": item.category, "slice": item.slice,
                           "tier": item.tier, "facets": {}, "variant": "", "epoch": 1, "target": deployment.digest,
                           "interaction": "single_turn", "status": "ok", "error": None,
                           "messages": [{"role": "user", "content": f"question {i}"},
                                        {"role": "assistant", "content": f"ECHO: question {i} ({b})"}],
                           "stats": {"calls": 1, "cached_calls": 0, "retries": 0,
                                     "usage": {"input_tokens": 3, "output_tokens": 4}, "latency_s": 0.01}})
            verdicts.append((sid, "includes", {"grader": "includes", "version": "1", "evidence": {},
                                               "label": "pass" if (i + b) % 3 else "fail",
                                               "score": 1.0 if (i + b) % 3 else 0.0}))
        journal.write_verdicts(verdicts)
        out.append(write_bundle(root / f"bundle-{b}", journals=[journal], protocol=protocol,
                                protocol_envelope=envelope, direction=Direction("lab-a", "lab-b", "lab-b-prod"),
                                signing_key=store.signing_key("lab-a")))
    return out


def serve(root: Path) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "crosslab", "registry", "serve", "--db",
                             f"sqlite:///{root / 'registry.sqlite3'}", "--dir", str(root), "--port", str(port),
                             "--submissions-per-minute", "100000"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/checkpoint", timeout=5).read()  # noqa: S310 - loopback
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the registry did not start")


def submit(url: str, bundle: Path) -> None:
    request = urllib.request.Request(url + "/api/v1/bundles", data=pack_bundle(bundle), method="POST",
                                     headers={"content-type": "application/gzip"})
    with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310 - loopback
        assert response.status == 201


def time_verify(package: Path, log_key: str, witnesses: list[str]) -> None:
    """In a fresh process: best of 3 `verify_package` calls."""
    data = package.read_bytes()
    trust = Trust.parse(log_key, witnesses)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        found = verify_package(data, trust)
        times.append(time.perf_counter() - started)
    print(f"verified {len(found.bundles)} bundles ({sum(b.result.stubs for b in found.bundles):,} stubs), "
          f"{found.checkpoint.size} leaves, {len(found.cosignatures)} cosignatures, {len(data) / 2**20:.1f} MiB")
    print(f"VERIFY {min(times):.4f} {' '.join(f'{t:.3f}' for t in times)}")


def main() -> None:  # noqa: D103
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", type=int, default=100)
    parser.add_argument("--stubs", type=int, default=20)
    parser.add_argument("--verify", nargs="+", help=argparse.SUPPRESS)  # internal: PACKAGE LOGKEY WITNESS...
    args = parser.parse_args()
    if args.verify:
        time_verify(Path(args.verify[0]), args.verify[1], args.verify[2:])
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        bundles = build_bundles(root / "round", args.bundles, args.stubs)
        proc, url = serve(root / "registry")
        try:
            for bundle in bundles:
                submit(url, bundle)
            log_key = LogKey.load(root / "registry" / "log.key").verifier_key()
            package = root / "lab-b.evidence"
            pack(url, "lab-b", package, log_key=log_key)
        finally:
            proc.terminate()
            proc.wait(20)
        witnesses = [WitnessKey.generate(f"witness-{i}.example") for i in (1, 2)]
        decoded = decode_package(package.read_bytes())
        body, _ = split_note(decoded.checkpoint)
        package.write_bytes(encode_package(replace(decoded, checkpoint=decoded.checkpoint + b"".join(
            w.cosign(body) for w in witnesses))))
        print(f"built, published and packed {args.bundles} bundles of {args.stubs} stubs in "
              f"{time.perf_counter() - started:.1f}s (not timed)")
        keys = [w.verifier_key() for w in witnesses]
        out = subprocess.run([sys.executable, __file__, "--verify", str(package), log_key, *keys],
                             capture_output=True, text=True, check=True)
        print(out.stdout, end="")
        best = float(next(line for line in out.stdout.splitlines() if line.startswith("VERIFY")).split()[1])
        cli = [sys.executable, "-m", "crosslab", "evidence", "verify", str(package), "--log-key", log_key,
               *(a for k in keys for a in ("--witness-key", k))]
        started = time.perf_counter()
        done = subprocess.run(cli, capture_output=True, text=True, env={**os.environ})
        command_s = time.perf_counter() - started
        assert done.returncode == 0, done.stderr
        print(f"verify_package best of 3: {best:.3f}s; `crosslab evidence verify` end to end: {command_s:.3f}s; "
              f"goal {GOAL_S:g}s")
        print(f"RESULT bundles={args.bundles} stubs_per_bundle={args.stubs} verify_s={best:.3f} "
              f"command_s={command_s:.3f} goal_s={GOAL_S:g} ratio={best / GOAL_S:.3f} "
              f"command_ratio={command_s / GOAL_S:.3f}")


if __name__ == "__main__":
    main()
