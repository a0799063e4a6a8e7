"""The witness's HTTP face: C2SP tlog-witness ``POST /add-checkpoint``, and who it is at ``GET /``.

The body is read up to the protocol's size limit and no further; the checks
and the state's transaction run in a worker thread, so one slow SQLite lock
never stalls the event loop. Refusals are one line of plain text, except a
stale old size, which answers the witness's size as ``text/x.tlog.size``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from crosslab.core.version import __version__
from crosslab.transparency.witness_protocol import ADD_CHECKPOINT_PATH, MAX_BODY_BYTES, SIZE_CONTENT_TYPE
from crosslab.witness.witness import Refusal, Witness

__all__ = ["create_app"]


def create_app(witness: Witness) -> FastAPI:
    app = FastAPI(title="crosslab witness", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/")
    def about() -> PlainTextResponse:
        logs = "".join(f"log {vkey}\n" for vkey in sorted(map(str, witness.logs.values())))
        return PlainTextResponse(f"crosslab witness {witness.key.name}\nvkey {witness.key.verifier_key()}\n{logs}")

    @app.post(ADD_CHECKPOINT_PATH)
    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return PlainTextResponse(f"add-checkpoint body over {MAX_BODY_BYTES} bytes\n", status_code=400)
        try:
            lines = await run_in_threadpool(witness.add_checkpoint, bytes(body))
        except Refusal as refusal:
            if refusal.size is not None:
                # exactly this content type, without the charset Starlette would add to a text/* media type
                return Response(f"{refusal.size}\n", status_code=refusal.status,
                                headers={"content-type": SIZE_CONTENT_TYPE})
            return PlainTextResponse(str(refusal) + "\n", status_code=refusal.status)
        return Response(lines, media_type="text/plain; charset=utf-8")

    return app
