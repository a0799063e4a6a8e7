"""The registry's HTTP face: the submission and read API, the log's tiles and proofs, and the web pages.

Everything a page shows comes from ``queries`` (the API returns the same
dicts), and every page works without JavaScript. Submissions are limited
before they are read: body size, content type, and a per-client rate.
"""

from __future__ import annotations

import base64
import time
from collections import defaultdict
from importlib import resources
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FunctionLoader, select_autoescape

from crosslab.core.version import __version__
from crosslab.evidence import EvidenceError
from crosslab.evidence.compare import compare_evidence, render_comparison_body
from crosslab.registry import participation, queries
from crosslab.registry.cosigning import note_at
from crosslab.registry.records import UnknownLab, lab_records
from crosslab.registry.store import Registry
from crosslab.registry.submission import SubmissionError, check_bundle, check_declined, check_protocol
from crosslab.registry.tlog import LogError, LogRequestError, TileNotFound, verify_inclusion

MiB = 1024 * 1024
BUNDLE_TYPES = ("application/gzip", "application/x-gzip", "application/x-tar")


class ClientRate:
    """At most ``per_minute`` submissions per client address, as a token bucket (a burst of a tenth of that)."""

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1.0, per_minute / 10)
        self._buckets: dict[str, tuple[float, float]] = defaultdict(lambda: (self.burst, time.monotonic()))

    def allow(self, client: str) -> bool:
        level, stamp = self._buckets[client]
        now = time.monotonic()
        level = min(self.burst, level + (now - stamp) * self.rate)
        if level < 1.0:
            self._buckets[client] = (level, now)
            return False
        self._buckets[client] = (level - 1.0, now)
        return True


def _template(name: str) -> str:
    return resources.files("crosslab.registry").joinpath("templates", name).read_text(encoding="utf-8")


PAGES = Environment(loader=FunctionLoader(_template), autoescape=select_autoescape(default=True),
                    trim_blocks=True, lstrip_blocks=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _proof(index: int, size: int, hashes: list[bytes], root: bytes, entry: bytes) -> dict[str, Any]:
    """An inclusion proof as the API returns it: hashes bottom-up, all base64."""
    return {"index": index, "size": size, "root": _b64(root), "hashes": [_b64(h) for h in hashes],
            "entry": _b64(entry)}


def create_app(registry: Registry, *, max_upload: int = 64 * MiB, submissions_per_minute: float = 60.0) -> FastAPI:
    app = FastAPI(title="crosslab registry", version=__version__, docs_url=None, redoc_url=None,
                  description="Cross-lab evaluation results, published in a transparency log.")
    rate = ClientRate(submissions_per_minute)
    log = registry.log

    def read(fn: Any) -> Any:
        with registry.engine.connect() as conn:
            return fn(conn)

    def found(fn: Any, missing: str) -> Any:
        """What ``fn`` reads, or a 404 saying what is missing."""
        value = read(fn)
        if value is None:
            raise HTTPException(404, missing)
        return value

    async def body(request: Request, allowed: tuple[str, ...]) -> bytes:
        kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if kind not in allowed:
            raise HTTPException(415, f"content type must be {' or '.join(allowed)}, not {kind or 'none'}")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_upload):
            raise HTTPException(413, f"upload over the limit of {max_upload} bytes")
        client = request.client.host if request.client else "unknown"
        if not rate.allow(client):
            raise HTTPException(429, "too many submissions from this client; try again in a minute")
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > max_upload:
                raise HTTPException(413, f"upload over the limit of {max_upload} bytes")
        return bytes(data)

    def accept(check: Any, data: bytes) -> JSONResponse:
        try:
            submission = check(data)
            if isinstance(submission, tuple):
                submission = submission[0]
            receipt = registry.submit(submission)
        except SubmissionError as exc:
            return JSONResponse({"accepted": False, "error": str(exc)}, status_code=422)
        return JSONResponse({"accepted": True, **receipt.to_dict()}, status_code=201)

    # -- submissions ----------------------------------------------------------------------
    @app.post("/api/v1/protocols", status_code=201)
    async def submit_protocol(request: Request) -> Response:
        """A protocol with every participant's signature: ``{"protocol", "envelope"}``."""
        return accept(check_protocol, await body(request, ("application/json",)))

    @app.post("/api/v1/bundles", status_code=201)
    async def submit_bundle(request: Request) -> Response:
        """A bundle as a tar or tar.gz archive; accepted when the offline verifier passes."""
        return accept(check_bundle, await body(request, BUNDLE_TYPES))

    @app.post("/api/v1/declined", status_code=201)
    async def submit_declined(request: Request) -> Response:
        """A lab's signed statement that it declines a protocol's round: ``{"protocol", "envelope"}``."""
        return accept(check_declined, await body(request, ("application/json",)))

    # -- reading ----------------------------------------------------------------------------
    @app.get("/api/v1/rounds")
    def api_rounds() -> Any:
        return read(queries.rounds)

    @app.get("/api/v1/rounds/{protocol_id}")
    def api_round(protocol_id: str) -> Any:
        return found(lambda c: queries.round_detail(c, protocol_id), f"no round with protocol id {protocol_id}")

    @app.get("/api/v1/labs")
    def api_labs() -> Any:
        return read(queries.all_labs)

    @app.get("/api/v1/participation")
    def api_participation() -> Any:
        """Labs × rounds with each cell's evidence, and each lab's cadence (registry/participation.py)."""
        return read(participation.participation)

    @app.get("/api/v1/labs/{lab}")
    def api_lab(lab: str) -> Any:
        return found(lambda c: queries.lab_detail(c, lab), f"no lab {lab}")

    @app.get("/api/v1/entries/{index}")
    def api_entry(index: int) -> Any:
        return found(lambda c: queries.entry(c, index), f"no entry {index}")

    @app.get("/api/v1/entries/{index}/files/{name:path}")
    def api_file(index: int, name: str) -> Response:
        data = found(lambda c: queries.file_bytes(c, index, name), f"entry {index} has no file {name}")
        return Response(data, media_type="application/octet-stream",
                        headers={"content-disposition": f'attachment; filename="{name.rsplit("/", 1)[-1]}"'})

    # -- the log ----------------------------------------------------------------------------
    @app.get("/api/v1/proofs/inclusion")
    async def api_inclusion(index: int, size: int | None = None) -> Response:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries (default: the current size)."""
        held = log.held_inclusion(index, size) if size is not None else None
        proof = _proof(index, *held) if held else await run_in_threadpool(inclusion, index, size)
        return Response(orjson.dumps(proof), media_type="application/json")

    def inclusion(index: int, size: int | None) -> dict[str, Any]:
        try:
            return _proof(index, *log.inclusion(index, size))
        except LogRequestError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get("/api/v1/proofs/consistency")
    def api_consistency(old: int, new: int | None = None) -> Any:
        n = log.size() if new is None else new
        try:
            proof = log.consistency_proof(old, n)
            roots = (log.root(old) if old else b"", log.root(n))
        except LogRequestError as exc:
            raise HTTPException(400, str(exc)) from None
        return {"old": old, "new": n, "old_root": _b64(roots[0]), "new_root": _b64(roots[1]),
                "hashes": [_b64(h) for h in proof]}

    # with --min-witnesses K, /checkpoint is the newest note carrying K witnesses' cosignatures
    cosigning = registry.cosigning

    @app.get("/checkpoint")
    def checkpoint() -> Response:
        note = log.latest_checkpoint() if cosigning is None else cosigning.served_checkpoint()
        if note is None:
            raise HTTPException(503, f"no checkpoint carries {cosigning.min_witnesses} witness cosignatures yet")
        return Response(note, media_type="text/plain; charset=utf-8", headers={"cache-control": "no-store"})

    @app.get("/api/v1/checkpoints/{size}")
    def api_checkpoint_at(size: int) -> Response:
        """The log's checkpoint at ``size`` with every witness cosignature collected for it."""
        note = note_at(registry.engine, size) if 0 <= size < 1 << 63 else None
        if note is None:
            raise HTTPException(404, f"the log signed no checkpoint at size {size}")
        return Response(note, media_type="text/plain; charset=utf-8")

    @app.get("/api/v1/witnesses")
    def api_witnesses() -> Any:
        """The configured witnesses: the largest size each cosigned, and its last failure."""
        return {"min_witnesses": 0 if cosigning is None else cosigning.min_witnesses,
                "witnesses": [] if cosigning is None else cosigning.report()}

    @app.get("/tile/{path:path}")
    def tile(path: str) -> Response:
        try:
            data = log.tile("tile/" + path)
        except TileNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except LogError as exc:
            raise HTTPException(400, str(exc)) from None
        return Response(data, media_type="application/octet-stream",
                        headers={"cache-control": "public, max-age=31536000, immutable"})

    # -- pages ------------------------------------------------------------------------------
    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = PAGES.get_template(name).render(version=__version__, **context)
        return HTMLResponse(html, status_code=status)

    @app.get("/", response_class=HTMLResponse)
    def home() -> HTMLResponse:
        return page("home.html", rounds=read(queries.rounds), labs=read(queries.all_labs), size=log.size())

    @app.get("/participation", response_class=HTMLResponse)
    def participation_page() -> HTMLResponse:
        return page("participation.html", matrix=read(participation.participation))

    # -- vendor comparison: each lab's record verified as a buyer's package is (registry/records.py), then
    # compared by evidence/compare.py, so this page and `crosslab evidence compare` cannot disagree
    def comparison(a: str, b: str) -> dict[str, Any]:
        try:
            first, second = lab_records(registry, [a, b])
        except UnknownLab as exc:
            raise HTTPException(404, str(exc)) from None
        except EvidenceError as exc:
            raise HTTPException(500, f"the registry's own record does not verify: {exc}") from None
        return compare_evidence(first, second, generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    @app.get("/api/v1/compare")
    def api_compare(a: str, b: str) -> Any:
        """Two labs side by side: paired only where the same protocol ran the same items (evidence/compare.py)."""
        return comparison(a, b)

    @app.get("/compare", response_class=HTMLResponse)
    def compare_page(a: str = "", b: str = "") -> HTMLResponse:
        labs = read(queries.all_labs)
        if not (a and b):
            return page("compare.html", labs=labs, a=a, b=b, body=None, problem=None)
        try:
            data = comparison(a, b)
        except HTTPException as exc:
            return page("compare.html", exc.status_code, labs=labs, a=a, b=b, body=None, problem=exc.detail)
        return page("compare.html", labs=labs, a=a, b=b, body=render_comparison_body(data), problem=None)

    @app.get("/labs/{lab}", response_class=HTMLResponse)
    def lab_page(lab: str) -> HTMLResponse:
        detail = read(lambda c: queries.lab_detail(c, lab))
        if detail is None:
            return page("missing.html", 404, what=f"No lab {lab} has taken part here.")
        return page("lab.html", lab=detail)

    @app.get("/rounds/{protocol_id}", response_class=HTMLResponse)
    def round_page(protocol_id: str) -> HTMLResponse:
        detail = read(lambda c: queries.round_detail(c, protocol_id))
        if detail is None:
            return page("missing.html", 404, what=f"No round with protocol id {protocol_id}.")
        return page("round.html", round=detail)

    @app.get("/log", response_class=HTMLResponse)
    def log_page(index: str | None = None) -> HTMLResponse:
        checked = None
        if index:
            if not index.isdigit():
                checked = {"error": "an entry index is a whole number"}
            else:
                try:
                    proof = inclusion(int(index), None)
                except HTTPException as exc:
                    checked = {"error": exc.detail}
                else:
                    ok = verify_inclusion(base64.b64decode(proof["entry"]), proof["index"], proof["size"],
                                          [base64.b64decode(h) for h in proof["hashes"]],
                                          base64.b64decode(proof["root"]))
                    checked = {**proof, "verified": ok}
        return page("log.html", checkpoint=log.latest_checkpoint().decode(), size=log.size(), checked=checked)

    return app
