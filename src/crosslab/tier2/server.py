"""The evaluator's MCP server: each rollout's task and tools, to whichever agent holds its token.

Built on the official ``mcp`` SDK's low-level ``Server`` (2.x), because the
tools differ per caller: a caller sees the tools of the rollout its bearer
token opens, and nothing else. Over streamable HTTP the token travels as
``Authorization: Bearer <token>``; the SDK's bearer middleware asks
``BookVerifier`` and answers an unknown token with 401, and a session is
bound to the token it started with. Over stdio one process serves one
rollout, whose token is given when the server starts.

What an agent can do:

- the ``task`` prompt: the scenario's instructions and task;
- the scenario's tools, plus ``submit``; after a submit that the suite's
  detector flags, only ``answer`` (and the ``follow_up`` prompt);
- a bad call (unknown tool, bad arguments, after the end) gets an MCP error
  result (``isError``), never a protocol error or a crash.

What the lab's harness can do besides: ``POST /attach`` with the same bearer
token and a JSON body ``{"kind": "reasoning", "content": "..."}`` files the
agent's reasoning trace with the rollout (restricted; never graded).

Rollouts end at submit (and the last follow-up answer), at the tool-call
limit, or at the time limit, which a sweep checks every second even when the
agent has gone quiet. An ended rollout is journaled and graded at once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import orjson
import mcp.types as types
from mcp.server import Server
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from crosslab.core.version import __version__
from crosslab.targets.base import ToolSpec
from crosslab.tier2.book import RolloutBook, TokenRefused
from crosslab.tier2.rollout import Rollout, ToolRefused

log = logging.getLogger("crosslab.tier2")
SCOPE = "rollout"
#: How the task prompt's messages are meant (the reference agent loop follows it).
TASK_DESCRIPTION = ("The operator's instructions (a deployment's system prompt), then the user's task; "
                    "a scenario without instructions has only the task.")
MAX_ATTACHMENT = 1 << 20  # bytes of one attachment


class BookVerifier:
    """The SDK's TokenVerifier: a token the book planned is a valid bearer token (its rollout may have ended)."""

    def __init__(self, book: RolloutBook) -> None:
        self.book = book

    async def verify_token(self, token: str) -> AccessToken | None:
        slot = self.book.slot(token)
        if slot is None:
            return None
        return AccessToken(token=token, client_id=slot.lab, scopes=[SCOPE], subject=slot.rollout_id)


def _text(text: str, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=error)


def _tool(spec: ToolSpec) -> types.Tool:
    return types.Tool(name=spec.name, description=spec.description, input_schema=spec.parameters)


class EnvironmentServer:
    """One MCP server over one rollout book."""

    def __init__(self, book: RolloutBook, *, stdio_token: str | None = None) -> None:
        self.book = book
        self._stdio_token = stdio_token
        self.server = Server("crosslab-env", version=__version__, on_list_tools=self._list_tools,
                             on_call_tool=self._call_tool, on_list_prompts=self._list_prompts,
                             on_get_prompt=self._get_prompt)

    # -- who is calling --------------------------------------------------------------------------
    def _token(self) -> str:
        access = get_access_token()
        if access is not None:
            return access.token
        if self._stdio_token is not None:
            return self._stdio_token
        raise MCPError(code=types.INVALID_REQUEST, message="no rollout token")

    def _rollout(self, token: str | None = None) -> Rollout:
        """The caller's rollout (or ``token``'s); an MCP error when the token opens none now."""
        try:
            return self.book.open(token or self._token())
        except TokenRefused as exc:
            raise MCPError(code=types.INVALID_REQUEST, message=str(exc)) from None

    # -- MCP handlers ----------------------------------------------------------------------------
    def _open_or_ended(self) -> Rollout | None:
        """The caller's rollout; None once it has ended (listing then shows nothing, rather than failing)."""
        token = self._token()
        return None if self.book.has_ended(token) else self._rollout(token)

    async def _list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        rollout = self._open_or_ended()
        return types.ListToolsResult(tools=[_tool(t) for t in rollout.tools()] if rollout else [])

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        token = self._token()
        try:
            rollout = self.book.open(token)
        except TokenRefused as exc:
            return _text(str(exc), error=True)
        try:
            result = _text(rollout.call(params.name, params.arguments if params.arguments is not None else {}))
        except ToolRefused as exc:
            result = _text(str(exc), error=True)
        except Exception as exc:  # noqa: BLE001 - a bug in a scenario's tool must not take the server down
            log.exception("tool %s failed in rollout %s", params.name, rollout.id)
            result = _text(f"{params.name}: internal error ({type(exc).__name__})", error=True)
        if rollout.phase == "ended":
            self.book.finish(token)
        return result

    async def _list_prompts(self, ctx: Any, params: Any) -> types.ListPromptsResult:
        rollout = self._open_or_ended()
        if rollout is None:
            return types.ListPromptsResult(prompts=[])
        prompts = [types.Prompt(name="task", description="Your instructions and task. Start here.")]
        if rollout.current_question() is not None:
            prompts.append(types.Prompt(name="follow_up", description="A question to answer with `answer`."))
        return types.ListPromptsResult(prompts=prompts)

    async def _get_prompt(self, ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        rollout = self._rollout()
        if params.name == "task":
            texts = rollout.task_messages()
        elif params.name == "follow_up" and rollout.current_question() is not None:
            texts = [str(rollout.current_question())]
        else:
            raise MCPError(code=types.INVALID_PARAMS, message=f"no prompt {params.name!r} now")
        return types.GetPromptResult(
            description=TASK_DESCRIPTION if params.name == "task" else None,
            messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=t)) for t in texts])

    # -- the lab's side channel ------------------------------------------------------------------
    async def _attach(self, request: Request) -> JSONResponse:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        try:
            rollout = self.book.open(token)
        except TokenRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=401 if "unknown" in str(exc) else 409)
        body = await request.body()
        if len(body) > MAX_ATTACHMENT:
            return JSONResponse({"error": f"attachment over {MAX_ATTACHMENT} bytes"}, status_code=413)
        try:
            data = orjson.loads(body)
            kind, content = data["kind"], data["content"]
            if not isinstance(kind, str) or not isinstance(content, str):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return JSONResponse({"error": 'expected JSON {"kind": str, "content": str}'}, status_code=400)
        rollout.attach(kind, content)
        return JSONResponse({"attached": kind, "rollout": rollout.id})

    async def _sweep(self) -> None:
        """End rollouts whose time is up, even when their agent has gone quiet."""
        while True:
            await anyio.sleep(1.0)
            for token_key, rollout in list(self.book.live.items()):
                if rollout.expire():
                    self.book.finish_by_hash(token_key)

    # -- transports ------------------------------------------------------------------------------
    def http_app(self, *, path: str = "/mcp", host: str = "127.0.0.1") -> Starlette:
        """The streamable-HTTP ASGI app (serve with uvicorn); its lifespan runs the sessions and the sweep."""
        inner = self.server.streamable_http_app(
            streamable_http_path=path, host=host, token_verifier=BookVerifier(self.book),
            auth=AuthSettings(issuer_url=f"http://{host}", resource_server_url=None, required_scopes=[SCOPE]))

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with anyio.create_task_group() as tg, self.server.session_manager.run():
                tg.start_soon(self._sweep)
                try:
                    yield
                finally:
                    tg.cancel_scope.cancel()

        return Starlette(routes=[Route("/attach", self._attach, methods=["POST"]), Mount("/", app=inner)],
                         lifespan=lifespan)

    async def serve_stdio(self) -> None:
        """Serve the one rollout of ``stdio_token`` over stdin/stdout until the client closes."""
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read, write):
            await self.server.run(read, write, self.server.create_initialization_options())
        if self._stdio_token is not None:
            self.book.finish(self._stdio_token)
