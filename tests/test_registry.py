"""The registry end to end: a real server on 127.0.0.1, on SQLite and on the machine's PostgreSQL.

A real round is published through `crosslab registry submit`: its protocol, a
bundle the offline verifier accepts, then the same bundle countersigned.
Every inclusion proof the API serves is checked with sigstore-python's Merkle
code (not ours); refusals carry the verifier's reason and store nothing; the
pages are loaded in headless Chromium and held to the API's numbers.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

from crosslab.registry.archive import ArchiveError, pack_bundle, read_bundle_archive
from tests.support.browser import chromium_path, load_page
from tests.support.databases import registry_database
from tests.support.smoke_round import smoke_round



# -- a round to publish ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """lab-a evaluates lab-b (the comply-all baseline) on the smoke suite; the bundle, and a countersigned copy."""
    world = smoke_round(tmp_path_factory.mktemp("registry-round"))
    root, env, spec = world["root"], world["env"], world["spec"]
    invited = root / "invited.yaml"  # a round lab-c is invited to and declines
    invited.write_text(yaml.safe_dump({**spec, "title": "A, B and C", "participants": spec["participants"] + [
        {"identity": "keys/lab-c.identity.json", "deployments": [{"name": "c-prod", "target": {
            "provider": "baseline", "model": "refuse-all"}}]}]}))
    countersigned = Path(shutil.copytree(world["bundle"], root / "countersigned"))
    signed = run_cli("bundle", "countersign", str(countersigned), "--as", "lab-b", "--keys", str(world["keys"]),
                     "--response", "We accept the findings.", env=env)
    assert signed.returncode == 0, signed.stderr
    return {**world, "invited": invited, "countersigned": countersigned}


# -- a server ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 - loopback test server
        return r.read()


def _post(url: str, body: bytes, kind: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": kind})
    try:
        with urllib.request.urlopen(request, timeout=120) as r:  # noqa: S310
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _declared_only(server: "Server", path: str, length: int) -> int:
    """Send only the headers of a POST declaring ``length`` bytes; the status the server answers with."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/gzip\r\n"
                     f"Content-Length: {length}\r\n\r\n".encode())
        status_line = conn.makefile("rb").readline().decode()
    return int(status_line.split()[1])


class Server:
    def __init__(self, db: str, directory: Path, *extra: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "crosslab", "registry", "serve", "--db", db,
                                      "--dir", str(directory), "--port", str(self.port), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(self.url + "/checkpoint")
                return
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    if self.proc.poll() is None:
                        self.proc.kill()  # never leave a server behind a failed start
                    out, err = self.proc.communicate(timeout=10)
                    raise RuntimeError(f"registry did not start: {err or out}")
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request, tmp_path_factory) -> str:
    with registry_database(request.param, tmp_path_factory.mktemp("db"), "crosslab_registry") as url:
        yield url


@pytest.fixture(scope="module")
def server(db: str, tmp_path_factory):
    srv = Server(db, tmp_path_factory.mktemp("registry-dir"), "--max-upload-mib", "2")
    yield srv
    srv.stop()


def submit(server: Server, path: Path, world: dict):
    return run_cli("registry", "submit", server.url, str(path), env=world["env"])


# -- the tests ----------------------------------------------------------------------------------
def test_a_round_is_published_grown_and_proven(server: Server, world: dict):
    from sigstore._internal.merkle import _chain_border_right, _chain_inner, _decomp_inclusion_proof, _hash_leaf

    first = submit(server, world["protocol"], world)
    assert first.returncode == 0, first.stderr
    assert "published: protocol at log entry 0" in first.stdout
    bundle = submit(server, world["bundle"], world)
    assert bundle.returncode == 0, bundle.stderr
    assert "published: bundle at log entry 1" in bundle.stdout
    again = submit(server, world["bundle"], world)
    assert again.returncode == 1 and "already published, with the same files" in again.stderr
    grown = submit(server, world["countersigned"], world)
    assert grown.returncode == 0 and "published: countersignature at log entry 2" in grown.stdout

    rounds = json.loads(_get(server.url + "/api/v1/rounds"))
    assert [(r["title"], r["bundles"], r["countersignatures"]) for r in rounds] == [("A evaluates B", 1, 1)]
    checkpoint = _get(server.url + "/checkpoint").decode()
    origin, size, root_b64 = checkpoint.split("\n")[:3]
    assert int(size) == 3 and "\n\n— " in checkpoint
    for index in range(3):
        proof = json.loads(_get(f"{server.url}/api/v1/proofs/inclusion?index={index}&size=3"))
        assert proof["root"] == root_b64
        entry = base64.b64decode(proof["entry"])
        assert json.loads(entry)["kind"] == ("protocol", "bundle", "countersignature")[index]
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        inner, border = _decomp_inclusion_proof(index, 3)
        computed = _chain_border_right(_chain_inner(_hash_leaf(entry), hashes[:inner], index), hashes[inner:])
        assert computed == base64.b64decode(root_b64), f"entry {index}: sigstore's verifier disagrees"
    detail = json.loads(_get(server.url + "/api/v1/entries/1"))
    restricted = _get(server.url + "/api/v1/entries/1/files/restricted.age")
    assert restricted == (world["bundle"] / "restricted.age").read_bytes()  # stored encrypted, as it came
    assert restricted.startswith(b"age-encryption.org/v1\n")
    assert {f["name"] for f in detail["files"]} >= {"items.jsonl", "statement.dsse.json", "restricted.age"}


def test_a_reveal_is_published_with_one_command(server: Server, world: dict, tmp_path: Path):
    for document in (world["protocol"], world["countersigned"]):  # published already, or now
        done = submit(server, document, world)
        assert done.returncode == 0 or "already published" in done.stderr, done.stderr
    grown = Path(shutil.copytree(world["countersigned"], tmp_path / "grown"))
    stubs = [json.loads(line) for line in (grown / "items.jsonl").read_text().splitlines()]
    restricted = next(s["i"] for s in stubs if s["tier"] == "restricted")
    revealed = run_cli("reveal", str(grown), "--items", str(restricted), "--as", "lab-a",
                       "--publish", server.url, env=world["env"])
    assert revealed.returncode == 0, revealed.stderr
    assert "revealed 1 sample(s)" in revealed.stdout and "published: reveal at log entry" in revealed.stdout
    index = int(revealed.stdout.split("published: reveal at log entry ")[1].split()[0])
    detail = json.loads(_get(f"{server.url}/api/v1/entries/{index}"))
    assert any(f["name"] == "reveals/0001.jsonl" for f in detail["files"])
    protocol_id = json.loads(_get(server.url + "/api/v1/rounds"))[0]["protocol_id"]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    [direction] = json.loads(_get(f"{server.url}/api/v1/rounds/{protocol_id}"))["directions"]
    assert direction["reveals"][-1] == index and direction["revealed_on"][-1] == today
    page = _get(f"{server.url}/rounds/{protocol_id}").decode()
    assert "revealed later: entry" in page and f'data-key="revealed-on-{index}">{today}<' in page


def test_refusals_carry_the_reason_and_store_nothing(server: Server, world: dict, tmp_path: Path):
    before = _get(server.url + "/checkpoint")
    tampered = Path(shutil.copytree(world["bundle"], tmp_path / "tampered"))
    lines = (tampered / "public.jsonl").read_bytes().splitlines(keepends=True)
    (tampered / "public.jsonl").write_bytes(b"".join(lines[1:] + lines[:1]))  # reordered disclosures
    status, answer = _post(server.url + "/api/v1/bundles", pack_bundle(tampered), "application/gzip")
    assert status == 422 and answer["error"].split(":")[0] in ("public.jsonl", "statement.dsse.json"), answer
    status, answer = _post(server.url + "/api/v1/bundles", b"{}", "application/json")
    assert status == 415
    assert _declared_only(server, "/api/v1/bundles", 3 * 1024 * 1024) == 413  # refused before the body is read
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        info = tarfile.TarInfo("../items.jsonl")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    status, answer = _post(server.url + "/api/v1/bundles", evil.getvalue(), "application/x-tar")
    assert status == 422 and answer["error"] == "../items.jsonl: not a bundle file"
    assert _get(server.url + "/checkpoint") == before  # nothing of a refusal reached the log


def test_a_lab_that_declines_is_published_with_its_reason(server: Server, world: dict):
    declined = run_cli("registry", "decline", server.url, str(world["invited"]), "--as", "lab-c",
                       "--reason", "We are not ready this round.", env=world["env"])
    assert declined.returncode == 0, declined.stderr
    lab = json.loads(_get(server.url + "/api/v1/labs/lab-c"))
    assert [d["summary"]["reason"] for d in lab["declined"]] == ["We are not ready this round."]
    also = run_cli("registry", "decline", server.url, str(world["invited"]), "--as", "lab-b",
                   "--reason", "B declines the three-lab round too.", env=world["env"])
    assert also.returncode == 0, also.stderr  # lab-b is pinned here with the key this protocol names
    detail = json.loads(_get(f"{server.url}/api/v1/rounds/{json.loads(_get(server.url + '/api/v1/labs/lab-c'))['declined'][0]['protocol_id']}"))
    assert sorted(d["lab"] for d in detail["declined"]) == ["lab-b", "lab-c"]


def test_a_lab_is_pinned_to_its_first_key(server: Server, world: dict, tmp_path: Path):
    env = {"CROSSLAB_KEYSTORE": str(tmp_path / "ks")}
    assert run_cli("keys", "new", "lab-a", "--name", "Impostor", "--out", str(tmp_path), env=env).returncode == 0
    spec = yaml.safe_load(world["protocol"].read_text())
    spec["participants"][0]["identity"] = str(tmp_path / "lab-a.identity.json")
    spec["participants"][1]["identity"] = str(world["all_keys"] / "lab-b.identity.json")
    spec["title"] = "An impostor's round"
    fake = tmp_path / "fake.yaml"
    fake.write_text(yaml.safe_dump(spec))
    assert run_cli("registry", "decline", server.url, str(fake), "--as", "lab-a", "--reason", "x",
                   env=env).returncode == 1


def test_archives_are_read_as_a_closed_set():
    def tar(*members: tuple[str, bytes, bytes]) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as t:
            for name, kind, content in members:
                info = tarfile.TarInfo(name)
                info.type, info.size = kind, len(content)
                if kind == tarfile.SYMTYPE:
                    info.linkname, info.size = "/etc/passwd", 0
                t.addfile(info, io.BytesIO(content) if kind == tarfile.REGTYPE else None)
        return out.getvalue()

    cases = {
        "items.jsonl: not a regular file": tar(("items.jsonl", tarfile.SYMTYPE, b"")),
        "notes.txt: not a bundle file": tar(("notes.txt", tarfile.REGTYPE, b"x")),
        "/items.jsonl: not a bundle file": tar(("/items.jsonl", tarfile.REGTYPE, b"x")),
        "items.jsonl: appears twice": tar(("items.jsonl", tarfile.REGTYPE, b"x"), ("items.jsonl", tarfile.REGTYPE, b"y")),
        "archive: not a tar archive": b"not a tar at all" * 100,
    }
    for message, data in cases.items():
        with pytest.raises(ArchiveError) as caught:
            read_bundle_archive(data)
        assert str(caught.value).startswith(message), str(caught.value)
    assert read_bundle_archive(tar(("reveals/0001.jsonl", tarfile.REGTYPE, b"{}\n"))) == {"reveals/0001.jsonl": b"{}\n"}


@pytest.mark.slow
def test_pages_in_chromium_match_the_api_and_need_nothing_else(world: dict, tmp_path: Path):
    """On SQLite only: the pages read the same queries on either database."""
    if chromium_path() is None:
        pytest.fail("Chromium is not installed (CI installs Debian's chromium)")
    server = Server(f"sqlite:///{tmp_path / 'pages.sqlite3'}", tmp_path / "dir")
    try:
        for path in (world["protocol"], world["bundle"], world["countersigned"]):
            assert submit(server, path, world).returncode == 0
        _check_pages(server, tmp_path)
    finally:
        server.stop()


def _check_pages(server: Server, tmp_path: Path) -> None:
    rounds = json.loads(_get(server.url + "/api/v1/rounds"))
    protocol_id = rounds[0]["protocol_id"]
    size = int(_get(server.url + "/checkpoint").decode().split("\n")[1])
    bundle = json.loads(_get(f"{server.url}/api/v1/rounds/{protocol_id}"))["directions"][0]
    pages = {"home": "/", "lab-a": "/labs/lab-a", "lab-b": "/labs/lab-b", "round": f"/rounds/{protocol_id}",
             "log": "/log?index=1"}
    for name, path in pages.items():
        page = load_page(server.url + path, tab_through=True, audit=True)
        (tmp_path / f"{name}.png").write_bytes(page.screenshot)
        assert page.screenshot.startswith(b"\x89PNG"), name
        assert page.errors == [], (name, page.errors)
        assert page.serious() == [] and page.overflowing == [], (name, page.serious(), page.overflowing)
        assert all(u.startswith(server.url) for u in page.requests), (name, page.requests)
        assert set(page.links) <= set(page.focused), (name, set(page.links) - set(page.focused))
        if "log-size" in page.keyed:
            assert int(page.keyed["log-size"]) == size
        if name == "home":
            assert int(page.keyed[f"round-bundles-{protocol_id}"]) == rounds[0]["bundles"]
        if name == "round":
            for m in bundle["summary"]["metrics"]:
                if m["category"] != "all" and m["pass_rate"]:
                    key = f"pass-rate-{bundle['index']}-{m['category']}"
                    assert page.keyed[key] == f"{m['pass_rate']['estimate']:.3f}"
