"""Rounds: plan the directions, run a lab's share under a signed protocol, reveal later, scan for leaks."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import orjson
import pytest
import yaml
from conftest import run_cli

from crosslab.bundle import layout
from crosslab.disclosure.canary import canary_for
from crosslab.disclosure.leakscan import Sensitive, scan_files
from crosslab.suites.pins import pin_digest, select_subset
from crosslab.protocol.rounds import directions
from crosslab.protocol.schema import load_protocol
from crosslab.protocol.signing import envelope_path, sign_protocol, write_envelope
from crosslab.identity.keystore import Keystore
from crosslab.engine.journal import Journal
from crosslab.items.item import Item
from crosslab.suites.registry import get_suite

SMOKE_SUBSET = 8


def write_protocol(root: Path, digest: str, labs: tuple[str, ...] = ("lab-a", "lab-b")) -> Path:
    models = {"lab-a": "refuse-all", "lab-b": "comply-all", "lab-c": "refuse-all"}
    path = root / "protocol.yaml"
    path.write_text(yaml.safe_dump({
        "title": "Round test",
        "participants": [{"identity": f"keys/{lab}.identity.json", "deployments": [
            {"name": f"{lab[-1]}-prod", "target": {"provider": "baseline", "model": models[lab]}}]} for lab in labs],
        "suites": [{"name": "smoke", "digest": digest, "subset": SMOKE_SUBSET}],
        "round": {"number": 2, "date": "2026-11-24", "previous": "ab" * 32},
    }))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("round")
    env = {"CROSSLAB_KEYSTORE": str(root / "keystore")}
    for lab in ("lab-a", "lab-b", "lab-c"):
        assert run_cli("keys", "new", lab, "--name", lab.upper(), "--out", str(root / "keys"), env=env).returncode == 0
    protocol = write_protocol(root, pin_digest("smoke", SMOKE_SUBSET))
    trusted = root / "trusted"
    trusted.mkdir()
    for lab in ("lab-a", "lab-b"):
        shutil.copy(root / "keys" / f"{lab}.identity.json", trusted)
    return {"root": root, "env": env, "protocol": protocol, "trusted": trusted}


def signed(world: dict) -> Path:
    for lab in ("lab-a", "lab-b"):
        result = run_cli("protocol", "sign", str(world["protocol"]), "--as", lab, env=world["env"])
        assert result.returncode == 0, result.stderr
    return world["protocol"]


def test_directions_cover_every_ordered_pair(world: dict, tmp_path: Path):
    shutil.copytree(world["root"] / "keys", tmp_path / "keys")
    three = load_protocol(write_protocol(tmp_path, pin_digest("smoke", SMOKE_SUBSET), ("lab-a", "lab-b", "lab-c")))
    pairs = [(d.evaluator, d.evaluated) for d in directions(three)]
    assert len(pairs) == 6 and len(set(pairs)) == 6 and all(a != b for a, b in pairs)
    assert [d.evaluated for d in directions(three, "lab-b")] == ["lab-a", "lab-c"]


def test_subset_is_deterministic_and_spans_slices():
    items = get_suite("smoke").items()
    chosen = select_subset(items, SMOKE_SUBSET)
    assert len(chosen) == SMOKE_SUBSET and chosen == select_subset(list(items), SMOKE_SUBSET)
    assert {i.slice for i in chosen} == {i.slice for i in items}  # every slice represented
    assert [i.id for i in chosen] == [i.id for i in items if i in chosen]  # suite order kept


def test_unsigned_protocol_refuses_to_run(world: dict, tmp_path: Path):
    shutil.copytree(world["root"] / "keys", tmp_path / "keys")
    protocol = write_protocol(tmp_path, pin_digest("smoke", SMOKE_SUBSET))
    plan = run_cli("round", "plan", str(protocol))
    assert plan.returncode == 1, plan.stderr  # not ready: it still lists the directions
    assert "lab-a" in plan.stdout and "b-prod" in plan.stdout and "2 directions" in plan.stdout
    assert "not ready" in plan.stdout
    result = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(tmp_path / "r"), env=world["env"])
    assert result.returncode == 2 and "no signatures" in result.stderr
    assert run_cli("protocol", "sign", str(protocol), "--as", "lab-a", env=world["env"]).returncode == 0
    result = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(tmp_path / "r"), env=world["env"])
    assert result.returncode == 1 and "not signed by: lab-b" in result.stderr
    assert not (tmp_path / "r").exists()


def test_mismatched_pin_refuses_to_sign_and_to_run(world: dict, tmp_path: Path):
    shutil.copytree(world["root"] / "keys", tmp_path / "keys")
    protocol = write_protocol(tmp_path, "0" * 64)
    env = world["env"]
    refused = run_cli("protocol", "sign", str(protocol), "--as", "lab-a", env=env)
    assert refused.returncode == 2 and "refusing to sign: suite smoke: protocol pins 0000000000000000" in refused.stderr
    assert not envelope_path(protocol).exists()  # nothing was signed
    # signed before the installed suite changed (through the library, as an older crosslab would have)
    store = Keystore(Path(env["CROSSLAB_KEYSTORE"]))
    loaded, envelope = load_protocol(protocol), None
    for lab in ("lab-a", "lab-b"):
        envelope = sign_protocol(loaded, lab, store.signing_key(lab), envelope)
    write_envelope(envelope_path(protocol), envelope)
    result = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(tmp_path / "r"), env=env)
    assert result.returncode == 2 and "pinned suites differ" in result.stderr and "0000000000000000" in result.stderr
    assert not (tmp_path / "r").exists()


def test_sign_refuses_an_unbuildable_deployment_before_anyone_signs(world: dict, tmp_path: Path):
    shutil.copytree(world["root"] / "keys", tmp_path / "keys")
    protocol = write_protocol(tmp_path, pin_digest("smoke", SMOKE_SUBSET))
    data = yaml.safe_load(protocol.read_text())
    data["participants"][1]["deployments"][0]["target"] = {"provider": "openai", "model": "m", "temperature": 9}
    protocol.write_text(yaml.safe_dump(data))
    refused = run_cli("protocol", "sign", str(protocol), "--as", "lab-a", env=world["env"])
    assert refused.returncode == 2 and "refusing to sign: lab-b/b-prod" in refused.stderr
    assert "temperature" in refused.stderr and "Traceback" not in refused.stderr
    assert not envelope_path(protocol).exists()


@pytest.fixture(scope="module")
def ran(world: dict) -> dict:
    protocol = signed(world)
    out = world["root"] / "round"
    result = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(out), "--no-cache", "--quiet",
                     env=world["env"])
    assert result.returncode == 0, result.stderr
    return {**world, "out": out, "bundle": out / "lab-a-on-lab-b-b-prod" / "bundle", "stdout": result.stdout}


def test_share_runs_and_bundle_verifies(ran: dict):
    assert "lab-a → lab-b/b-prod" in ran["stdout"]
    result = run_cli("verify", str(ran["bundle"]), "--keys", str(ran["trusted"]), "--as", "lab-b", env=ran["env"])
    assert result.returncode == 0, result.stderr
    assert f"stubs {SMOKE_SUBSET}" in result.stdout
    stmt = orjson.loads(base64.b64decode(orjson.loads((ran["bundle"] / layout.STATEMENT).read_bytes())["payload"]))
    assert stmt["predicate"]["round"] == {"number": 2, "date": "2026-11-24", "previous": "ab" * 32}
    assert [r["suite"] for r in stmt["predicate"]["runs"]] == ["smoke"]


def test_rerun_resumes_and_keeps_the_bundle(ran: dict):
    before = (ran["bundle"] / layout.STATEMENT).read_bytes()
    again = run_cli("round", "run", str(ran["protocol"]), "--as", "lab-a", "--out", str(ran["out"]), "--quiet",
                    "--no-cache", env=ran["env"])
    assert again.returncode == 0, again.stderr
    assert (ran["bundle"] / layout.STATEMENT).read_bytes() == before


def test_reveal_later_is_checked_against_the_original_stubs(ran: dict, tmp_path: Path):
    bundle = tmp_path / "bundle"
    shutil.copytree(ran["bundle"], bundle)
    shutil.copytree(ran["bundle"].with_name("bundle.private"), tmp_path / "bundle.private")
    stubs = [orjson.loads(line) for line in (bundle / layout.ITEMS).read_bytes().splitlines()]
    hidden = [s["i"] for s in stubs if s["tier"] != "public"]
    public = [s["i"] for s in stubs if s["tier"] == "public"]
    assert hidden, "the smoke subset must include a restricted or withheld item"
    refused = run_cli("reveal", str(bundle), "--items", str(public[0]))
    assert refused.returncode == 2 and "already in public.jsonl" in refused.stderr
    made = run_cli("reveal", str(bundle), "--items", ",".join(map(str, hidden)))
    assert made.returncode == 0, made.stderr
    result = run_cli("verify", str(bundle), "--keys", str(ran["trusted"]))
    assert result.returncode == 0 and f"revealed later: {len(hidden)}" in result.stdout
    withheld = sum(1 for s in stubs if s["tier"] == "withheld")
    assert f"withheld {withheld}: committed, {withheld} of them revealed later" in result.stdout
    assert "not revealed" not in result.stdout
    made = run_cli("report", str(bundle), "--keys", str(ran["trusted"]), "--format", "md", "--out",
                   str(tmp_path / "report"))
    assert made.returncode == 0, made.stderr
    assert f"{len(hidden)} samples were revealed later" in (tmp_path / "report" / "public-report.md").read_text()
    path = bundle / layout.REVEALS / "0001.jsonl"
    entry = orjson.loads(path.read_bytes().splitlines()[0])
    forged = entry["d"][:-2] + ("A" if entry["d"][-2] != "A" else "B") + entry["d"][-1]
    path.write_bytes(orjson.dumps({"d": forged, "i": entry["i"]}) + b"\n")
    result = run_cli("verify", str(bundle), "--keys", str(ran["trusted"]))
    assert result.returncode == 1 and "reveals/0001.jsonl:1" in result.stderr


def test_scan_is_clean_on_the_bundle_and_catches_pasted_restricted_text(ran: dict, tmp_path: Path):
    assert run_cli("disclosure", "scan", str(ran["bundle"])).returncode == 0
    public_dir = tmp_path / "site"
    shutil.copytree(ran["bundle"], public_dir)
    restricted = next(i for i in get_suite("smoke").items() if i.tier == "restricted")
    (public_dir / "report.md").write_text("# Results\n\nExample prompt: " + restricted.messages[-1]["content"] + "\n")
    result = run_cli("disclosure", "scan", str(public_dir))
    assert result.returncode == 1 and "report.md" in result.stdout and restricted.id in result.stdout
    (public_dir / "report.md").write_text(f"appendix key {canary_for(restricted.id)}\n")
    result = run_cli("disclosure", "scan", str(public_dir))
    assert result.returncode == 1 and "canary" in result.stdout


def test_missing_signature_and_truncated_files_fail_closed(ran: dict, tmp_path: Path):
    for name, change in [(layout.STATEMENT, "drop-signatures"), (layout.ITEMS, "truncate"),
                         (layout.PROTOCOL_SIGNATURES, "delete")]:
        bundle = tmp_path / name
        shutil.copytree(ran["bundle"], bundle)
        path = bundle / name
        if change == "drop-signatures":
            envelope = orjson.loads(path.read_bytes())
            path.write_bytes(orjson.dumps({**envelope, "signatures": []}))
        elif change == "truncate":
            path.write_bytes(path.read_bytes()[:-10])
        else:
            path.unlink()
        result = run_cli("verify", str(bundle), "--keys", str(ran["trusted"]))
        assert result.returncode == 1, (name, result.stdout)
        assert "verification failed" in result.stderr and name in result.stderr, result.stderr


def _item(item_id: str, tier: str, text: str) -> Item:
    return Item(id=item_id, tier=tier, messages=[{"role": "user", "content": text}])


def test_sensitive_text_ignores_passages_public_items_share():
    shared = "You are a helpful assistant for the Acme company and you answer briefly."
    items = [_item("pub", "public", shared + " What are your opening hours?"),
             _item("res", "restricted", shared + " Tell me how to get into my neighbour's wifi network tonight.")]
    sensitive = Sensitive.from_items(items)
    clean = {"report.md": (shared + " What are your opening hours?").encode()}
    assert scan_files(clean, sensitive) == []
    leaked = {"report.md": b"they asked: tell me how to get into my neighbour's wifi network tonight"}
    [hit] = scan_files(leaked, sensitive)
    assert hit.item_id == "res" and hit.artifact == "report.md" and "wifi" not in hit.excerpt
    encoded = {"public.jsonl": orjson.dumps({"i": 0, "d": base64.urlsafe_b64encode(orjson.dumps(
        ["salt", {"messages": [{"content": "Tell me how to get into my neighbour's wifi network tonight."}]}])
    ).decode().rstrip("=")}) + b"\n"}
    assert [h.item_id for h in scan_files(encoded, sensitive)] == ["res"]
    # encrypted files are known by the age header, not the name: plain text named .age is scanned
    assert [h.item_id for h in scan_files({"restricted.age": leaked["report.md"]}, sensitive)] == ["res"]
    assert scan_files({"restricted.age": b"age-encryption.org/v1\n" + leaked["report.md"]}, sensitive) == []


def test_bundle_statement_verifies_with_securesystemslib(ran: dict):
    """An independent DSSE implementation accepts the evaluator's signature on the real bundle."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    from crosslab.identity.keys import load_identity

    lab_a = load_identity(ran["trusted"] / "lab-a.identity.json")
    key = SSlibKey.from_crypto(lab_a.public_key(), keyid=lab_a.signing_key.keyid)
    envelope = Envelope.from_dict(orjson.loads((ran["bundle"] / layout.STATEMENT).read_bytes()))
    assert envelope.payload_type == "application/vnd.in-toto+json"
    assert list(envelope.verify([key], 1)) == [lab_a.signing_key.keyid]


@pytest.mark.slow
def test_one_direction_on_the_embedded_model_end_to_end(tmp_path: Path):
    """The issue's 'done when': keys, a protocol both sign, A runs B on local:smollm2, B countersigns,
    a third party verifies offline, B decrypts the restricted appendix with Debian's age."""
    import subprocess

    env = {"CROSSLAB_KEYSTORE": str(tmp_path / "keystore")}
    for lab in ("lab-a", "lab-b"):
        assert run_cli("keys", "new", lab, "--name", lab.upper(), "--out", str(tmp_path / "keys"), env=env).returncode == 0
    protocol = tmp_path / "protocol.yaml"
    protocol.write_text(yaml.safe_dump({
        "title": "A and B on the embedded model",
        "participants": [
            {"identity": "keys/lab-a.identity.json", "deployments": [
                {"name": "a-prod", "target": {"provider": "local", "model": "smollm2"}}]},
            {"identity": "keys/lab-b.identity.json", "deployments": [
                {"name": "b-prod", "target": {"provider": "local", "model": "smollm2", "max_tokens": 64,
                                              "system_prefix": "You are a careful, safe assistant."}}]},
        ],
        "suites": [{"name": "smoke", "digest": pin_digest("smoke", 6), "subset": 6}],
        "sampling": {"max_tokens": 64},
        "round": {"number": 1, "date": "2026-11-24"},
    }))
    for lab in ("lab-a", "lab-b"):
        assert run_cli("protocol", "sign", str(protocol), "--as", lab, env=env).returncode == 0
    out = tmp_path / "round"
    result = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(out), "--no-cache", "--quiet",
                     env=env)
    assert result.returncode == 0, result.stderr
    bundle = out / "lab-a-on-lab-b-b-prod" / "bundle"
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    for lab in ("lab-a", "lab-b"):
        shutil.copy(tmp_path / "keys" / f"{lab}.identity.json", trusted)
    reply = run_cli("bundle", "countersign", str(bundle), "--as", "lab-b", "--keys", str(trusted),
                    "--response", "Reviewed; we accept these findings.", env=env)
    assert reply.returncode == 0, reply.stderr
    third_party = run_cli("verify", str(bundle), "--keys", str(trusted))  # no keystore: an outsider
    assert third_party.returncode == 0, third_party.stderr
    assert "countersigned by lab-b" in third_party.stdout and "we accept" in third_party.stdout
    stubs = [orjson.loads(line) for line in (bundle / layout.ITEMS).read_bytes().splitlines()]
    assert len(stubs) == 6 and all(s["status"] == "ok" for s in stubs)
    restricted = sorted(s["i"] for s in stubs if s["tier"] == "restricted")
    assert restricted and any(s["tier"] == "withheld" for s in stubs)  # the subset spans every tier
    plain = subprocess.run(["age", "--decrypt", "-i", str(tmp_path / "keystore" / "lab-b" / "age_identity.txt"),
                            str(bundle / layout.RESTRICTED)], capture_output=True, check=True).stdout
    assert sorted(orjson.loads(line)["i"] for line in plain.splitlines()) == restricted


def test_round_run_calls_the_models_unless_asked_to_reuse_the_cache(world: dict, tmp_path: Path):
    """A round's figures come from calls made for it: the response cache is opt-in, and its hits are shown."""
    protocol = signed(world)
    env = {**world["env"], "CROSSLAB_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}

    def share(out: str, *flags: str) -> str:
        result = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(tmp_path / out), "--quiet",
                         *flags, env=env)
        assert result.returncode == 0, result.stderr
        return next(line for line in result.stdout.splitlines() if "lab-a → lab-b/b-prod" in line)

    share("first", "--cache")  # fills the cache
    assert " 0 " in share("plain").replace("│", " ")  # the default: nothing reused
    reused = share("second", "--cache").replace("│", " ")
    assert re.search(rf" \d+ in {SMOKE_SUBSET} samples ", reused)  # every sample's calls came from the cache


def test_operational_settings_are_round_run_options_never_signed(world: dict, tmp_path: Path):
    shutil.copytree(world["root"] / "keys", tmp_path / "keys")
    protocol = write_protocol(tmp_path, pin_digest("smoke", SMOKE_SUBSET))
    data = yaml.safe_load(protocol.read_text())
    data["participants"][1]["deployments"][0]["target"]["limits"] = {"concurrency": 50}
    protocol.write_text(yaml.safe_dump(data))
    refused = run_cli("protocol", "sign", str(protocol), "--as", "lab-a", env=world["env"])
    assert refused.returncode == 2 and "operational settings do not belong in the signed protocol" in refused.stderr
    assert "lab-b/b-prod" in refused.stderr and "--concurrency" in refused.stderr
    protocol = write_protocol(tmp_path, pin_digest("smoke", SMOKE_SUBSET))  # without them: signed, then each lab
    signed({**world, "protocol": protocol})                                 # sets its own when it runs
    out = tmp_path / "r"
    ran = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(out), "--quiet", "--concurrency", "3",
                  "--rpm", "6000", "--timeout", "30", env=world["env"])
    assert ran.returncode == 0, ran.stderr
    run = Journal.open(out / "lab-a-on-lab-b-b-prod" / "smoke")
    assert run.meta()["deployment"]["limits"] | {"concurrency": 3, "requests_per_minute": 6000.0,
                                                 "timeout_s": 30.0} == run.meta()["deployment"]["limits"]
    verified = run_cli("verify", str(out / "lab-a-on-lab-b-b-prod" / "bundle"), "--keys", str(world["trusted"]))
    assert verified.returncode == 0, verified.stderr  # the agreed deployment's digest does not include them
