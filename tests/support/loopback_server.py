"""A scripted model API on 127.0.0.1 that speaks the OpenAI, Anthropic and Gemini wire formats.

Adapter tests use it to drive the real provider SDKs over real HTTP, and the
throughput benchmark uses it as a stand-in provider, so the request path is
kept lean: orjson, no access log, nothing logged per request.

Answers are scripted from the last user message (the *sample key*):

* ``"ECHO: " + key`` by default;
* a native tool call when tools are offered and the key contains
  ``CALL_TOOL <name> <json-object>``;
* ``"TOOL_RESULT: " + <result text>`` when the last turn carries tool results;
* a judge's answer object when the key quotes an earlier echo (a judge grading
  an echoed reply) that carries ``JUDGE_SAYS k=v,k=v`` (``true``/``false`` and
  digits become JSON booleans and integers): ``{"k": v, ...}``.

Faults are injected deterministically: the n-th request (n = 0, 1, ...) for a
key draws from ``random.Random(f"{seed}:{key}:{n}")``, so a rerun of the same
workload meets the same faults no matter how requests interleave.

Run it in the foreground (it prints ``PORT <n>`` once listening)::

    python -m tests.support.loopback_server --port 0 --fault-rate 0.2 \\
        --faults rate_limit,server_error,hang,malformed,reset --retry-after 0.05 --hang 5 --seed 1

or from Python with ``running_server(**options)``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

FAULT_KINDS = ("rate_limit", "server_error", "hang", "malformed", "reset")
HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(slots=True)
class Options:
    latency: float = 0.0  # seconds slept before every answer, faulty or not
    fault_rate: float = 0.0  # chance in [0, 1] that a request gets a fault
    faults: tuple[str, ...] = ()  # which faults to draw from, uniformly
    retry_after: float = 1.0  # Retry-After seconds sent with rate_limit
    hang_s: float = 30.0  # how long a "hang" sleeps before answering normally
    seed: int = 0
    answer_kb: int = 0  # filler appended to every text answer: client-side work per sample (bench/scale_out.py)

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")


@dataclass(slots=True)
class Turn:
    """What the scripted model needs from a request, whatever its wire format."""

    key: str  # text of the last user message
    system: str | None
    tool_result: str | None  # joined results when the last turn carries tool results
    tools: list[str]  # names of offered tools
    model: str
    params: dict[str, Any]
    words: int  # whitespace-separated words across all texts: the fake input token count


@dataclass(slots=True)
class Answer:
    text: str | None = None
    call: tuple[str, dict[str, Any]] | None = None
    words: int = 0


@dataclass(slots=True)
class Stats:
    requests: int = 0
    ok: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)  # attempts per key: drives fault draws
    last: dict[str, Any] = field(default_factory=dict)
    systems: dict[str, int] = field(default_factory=dict)  # requests by their system text ("" for none)

    def to_json(self) -> bytes:
        return orjson.dumps({"requests": self.requests, "ok": self.ok, "faults": self.faults,
                             "last": self.last, "systems": self.systems})


# --------------------------------------------------------------------------- scripting


def _words(text: str) -> int:
    return len(text.split())


def parse_call(key: str) -> tuple[str, dict[str, Any]] | None:
    """Find ``CALL_TOOL <name> <json-object>`` in the user's text."""
    at = key.find("CALL_TOOL ")
    if at < 0:
        return None
    name, _, rest = key[at + len("CALL_TOOL "):].lstrip().partition(" ")
    try:
        args, _ = json.JSONDecoder().raw_decode(rest.lstrip())
    except ValueError:
        return None
    return (name, args) if name and isinstance(args, dict) else None


def judge_answer(key: str) -> str | None:
    """``JUDGE_SAYS label=correct`` inside a quoted echo -> ``{"label": "correct"}`` (None otherwise)."""
    at = key.rfind("JUDGE_SAYS ")
    if at < 0 or "ECHO: " not in key[:at]:
        return None
    fields: dict[str, Any] = {}
    for pair in key[at + len("JUDGE_SAYS "):].split(None, 1)[0].split(","):
        name, _, value = pair.partition("=")
        fields[name] = {"true": True, "false": False}.get(value, int(value) if value.isdigit() else value)
    return json.dumps(fields)


@functools.cache
def _filler(kb: int) -> str:
    return ("lorem ipsum dolor sit amet " * (kb * 1024 // 27 + 1))[: kb * 1024]


def script(turn: Turn) -> Answer:
    if turn.tool_result is not None:
        text = "TOOL_RESULT: " + turn.tool_result
        return Answer(text=text, words=_words(text))
    if turn.tools:
        call = parse_call(turn.key)
        if call is not None:
            return Answer(call=call, words=1 + len(call[1]))
    text = judge_answer(turn.key) or "ECHO: " + turn.key
    return Answer(text=text, words=_words(text))


# --------------------------------------------------------------------------- OpenAI


def _oa_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def openai_turn(body: dict[str, Any]) -> Turn:
    msgs = body.get("messages") or []
    system: list[str] = []
    key = ""
    words = 0
    results: list[str] = []
    for m in msgs:
        role = m.get("role")
        text = _oa_text(m.get("content"))
        words += _words(text)
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user":
            key = text
        if role == "tool":
            results.append(text)
        else:
            results = []
    return Turn(
        key=key,
        system="\n\n".join(system) if system else None,
        tool_result="\n".join(results) if results else None,
        tools=[(t.get("function") or {}).get("name", "") for t in body.get("tools") or []],
        model=body.get("model", ""),
        params={"temperature": body.get("temperature"), "top_p": body.get("top_p"),
                "max_tokens": body.get("max_tokens", body.get("max_completion_tokens")),
                "seed": body.get("seed")},
        words=words,
    )


def openai_body(turn: Turn, answer: Answer, n: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text}
    if answer.call is not None:
        name, args = answer.call
        message["tool_calls"] = [{"id": f"call_{n}", "type": "function",
                                  "function": {"name": name, "arguments": orjson.dumps(args).decode()}}]
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": turn.model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if answer.call else "stop"}],
        "usage": {"prompt_tokens": turn.words, "completion_tokens": answer.words,
                  "total_tokens": turn.words + answer.words},
    }


def openai_error(kind: str, status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


# --------------------------------------------------------------------------- Anthropic


def _an_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _an_text(content: Any) -> str:
    return "".join(b.get("text", "") for b in _an_blocks(content) if b.get("type") == "text")


def anthropic_turn(body: dict[str, Any]) -> Turn:
    system_raw = body.get("system")
    system = _an_text(system_raw) if system_raw else None
    words = _words(system or "")
    key = ""
    results: list[str] = []
    for m in body.get("messages") or []:
        blocks = _an_blocks(m.get("content"))
        texts = [b.get("text", "") for b in blocks if b.get("type") == "text"]
        for t in texts:
            words += _words(t)
        results = [_an_text(b.get("content")) for b in blocks if b.get("type") == "tool_result"]
        words += sum(_words(r) for r in results)
        if m.get("role") == "user" and texts:
            key = "".join(texts)
    return Turn(
        key=key,
        system=system,
        tool_result="\n".join(results) if results else None,
        tools=[t.get("name", "") for t in body.get("tools") or []],
        model=body.get("model", ""),
        params={"temperature": body.get("temperature"), "top_p": body.get("top_p"),
                "max_tokens": body.get("max_tokens"), "seed": None},
        words=words,
    )


def anthropic_body(turn: Turn, answer: Answer, n: int) -> dict[str, Any]:
    if answer.call is not None:
        name, args = answer.call
        content: list[dict[str, Any]] = [{"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": args}]
    else:
        content = [{"type": "text", "text": answer.text}]
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "model": turn.model,
        "content": content,
        "stop_reason": "tool_use" if answer.call else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": turn.words, "output_tokens": answer.words},
    }


def anthropic_error(kind: str, status: int, message: str) -> dict[str, Any]:
    err_type = {"rate_limit": "rate_limit_error", "server_error": "api_error"}.get(kind, "invalid_request_error")
    return {"type": "error", "error": {"type": err_type, "message": message}}


# --------------------------------------------------------------------------- Gemini


def _gm_text(parts: Any) -> str:
    return "".join(p.get("text", "") for p in parts or [] if isinstance(p, dict) and "text" in p)


def _gm_result(response: Any) -> str:
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return orjson.dumps(response).decode()


def gemini_turn(body: dict[str, Any], model: str) -> Turn:
    si = body.get("systemInstruction")
    system = _gm_text(si.get("parts")) if isinstance(si, dict) else None
    words = _words(system or "")
    key = ""
    results: list[str] = []
    for c in body.get("contents") or []:
        parts = [p for p in c.get("parts") or [] if isinstance(p, dict)]
        text = _gm_text(parts)
        words += _words(text)
        results = [_gm_result(p["functionResponse"].get("response")) for p in parts if "functionResponse" in p]
        words += sum(_words(r) for r in results)
        if c.get("role", "user") == "user" and text:
            key = text
    config = body.get("generationConfig") or {}
    tools = [d.get("name", "") for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    return Turn(
        key=key,
        system=system,
        tool_result="\n".join(results) if results else None,
        tools=tools,
        model=model,
        params={"temperature": config.get("temperature"), "top_p": config.get("topP"),
                "max_tokens": config.get("maxOutputTokens"), "seed": config.get("seed")},
        words=words,
    )


def gemini_body(turn: Turn, answer: Answer, n: int) -> dict[str, Any]:
    if answer.call is not None:
        name, args = answer.call
        # The Gemini API often omits call ids; leaving them out exercises the adapter's fallback.
        parts: list[dict[str, Any]] = [{"functionCall": {"name": name, "args": args}}]
    else:
        parts = [{"text": answer.text}]
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": turn.words, "candidatesTokenCount": answer.words,
                          "totalTokenCount": turn.words + answer.words},
        "modelVersion": turn.model,
        "responseId": f"resp-{n}",
    }


def gemini_error(kind: str, status: int, message: str) -> dict[str, Any]:
    status_name = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}.get(status, "INVALID_ARGUMENT")
    return {"error": {"code": status, "message": message, "status": status_name}}


# --------------------------------------------------------------------------- server


@dataclass(frozen=True, slots=True)
class WireFormat:
    name: str
    body: Callable[[Turn, Answer, int], dict[str, Any]]
    error: Callable[[str, int, str], dict[str, Any]]


OPENAI = WireFormat("openai", openai_body, openai_error)
ANTHROPIC = WireFormat("anthropic", anthropic_body, anthropic_error)
GEMINI = WireFormat("gemini", gemini_body, gemini_error)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, headers=headers,
                        content_type="application/json")


class LoopbackServer:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.stats = Stats()
        self._n = 0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.openai)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/messages", self.anthropic)
        # google-genai 3.x defaults to /v1 (GOOGLE_GENAI_API_VERSION=beta gives /v1beta).
        app.router.add_post("/v1beta/models/{spec}", self.gemini)
        app.router.add_post("/v1/models/{spec}", self.gemini)
        app.router.add_get("/_stats", self.get_stats)
        app.router.add_post("/_reset", self.reset)
        return app

    async def openai(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if body is None:
            return _json(openai_error("bad_request", 400, "body is not JSON"), 400)
        return await self._answer(request, OPENAI, openai_turn(body))

    async def anthropic(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if body is None:
            return _json(anthropic_error("bad_request", 400, "body is not JSON"), 400)
        return await self._answer(request, ANTHROPIC, anthropic_turn(body))

    async def gemini(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["spec"].rpartition(":")
        if method != "generateContent":
            return _json(gemini_error("bad_request", 404, f"unsupported method {method!r}"), 404)
        body = await self._body(request)
        if body is None:
            return _json(gemini_error("bad_request", 400, "body is not JSON"), 400)
        return await self._answer(request, GEMINI, gemini_turn(body, model))

    async def models(self, request: web.Request) -> web.Response:
        return _json({"object": "list", "data": [
            {"id": "loopback", "object": "model", "created": 0, "owned_by": "crosslab-tests"}]})

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.Response(body=self.stats.to_json(), content_type="application/json")

    async def reset(self, request: web.Request) -> web.Response:
        self.stats = Stats()
        return _json({"reset": True})

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any] | None:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None

    def _draw_fault(self, key: str) -> str | None:
        stats, o = self.stats, self.options
        attempt = stats.seen.get(key, 0)
        stats.seen[key] = attempt + 1
        if not o.faults or o.fault_rate <= 0.0:
            return None
        rng = random.Random(f"{o.seed}:{key}:{attempt}")
        if rng.random() >= o.fault_rate:
            return None
        return rng.choice(o.faults)

    async def _answer(self, request: web.Request, fmt: WireFormat, turn: Turn) -> web.StreamResponse:
        stats, o = self.stats, self.options
        stats.requests += 1
        self._n += 1
        n = self._n
        stats.last = {"format": fmt.name, "model": turn.model, "system": turn.system,
                      "params": turn.params, "tools": turn.tools}
        stats.systems[turn.system or ""] = stats.systems.get(turn.system or "", 0) + 1
        fault = self._draw_fault(turn.key)
        if o.latency > 0:
            await asyncio.sleep(o.latency)
        if fault is not None:
            stats.faults[fault] = stats.faults.get(fault, 0) + 1
            if fault == "rate_limit":
                return _json(fmt.error("rate_limit", 429, "loopback: rate limited"), 429,
                             {"Retry-After": f"{o.retry_after:g}"})
            if fault == "server_error":
                return _json(fmt.error("server_error", 500, "loopback: internal error"), 500)
            if fault == "reset":
                # Drop the connection with no status line; the client must see a transport error.
                if request.transport is not None:
                    request.transport.abort()
                return web.Response()  # writing it fails quietly on the closed transport
            if fault == "hang":
                await asyncio.sleep(o.hang_s)  # then answer normally, if anyone is still there
        answer = script(turn)
        if self.options.answer_kb and answer.text is not None:
            answer.text += " " + _filler(self.options.answer_kb)
        body = orjson.dumps(fmt.body(turn, answer, n))
        if fault == "malformed":
            return web.Response(body=body[: len(body) // 2], content_type="application/json")
        # Counted only if the answer is about to be sent (a cancelled hang never gets here).
        stats.ok[turn.key] = stats.ok.get(turn.key, 0) + 1
        return web.Response(body=body, content_type="application/json")


async def serve(options: Options, port: int, ready: Callable[[int], None]) -> None:
    """Listen on 127.0.0.1 until SIGTERM/SIGINT; call ``ready(port)`` once bound."""
    server = LoopbackServer(options)
    # handler_cancellation: a client that times out on a hang frees its handler at once.
    runner = web.AppRunner(server.app(), access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port, backlog=4096)
    await site.start()
    bound = runner.addresses[0][1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready(bound)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def options_from_args(argv: list[str] | None = None) -> tuple[Options, int]:
    p = argparse.ArgumentParser(prog="python -m tests.support.loopback_server", description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--faults", default="", help=f"comma-separated subset of {','.join(FAULT_KINDS)}")
    p.add_argument("--retry-after", type=float, default=1.0)
    p.add_argument("--hang", type=float, default=30.0, dest="hang_s")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--answer-kb", type=int, default=0, help="filler KB appended to every text answer")
    a = p.parse_args(argv)
    faults = tuple(f for f in (s.strip() for s in a.faults.split(",")) if f)
    try:
        options = Options(latency=a.latency, fault_rate=a.fault_rate, faults=faults,
                          retry_after=a.retry_after, hang_s=a.hang_s, seed=a.seed, answer_kb=a.answer_kb)
    except ValueError as exc:
        p.error(str(exc))
    return options, a.port


def main(argv: list[str] | None = None) -> None:
    options, port = options_from_args(argv)

    def ready(bound: int) -> None:
        sys.stdout.write(f"PORT {bound}\n")
        sys.stdout.flush()

    asyncio.run(serve(options, port, ready))


# --------------------------------------------------------------------------- subprocess helper


class RunningServer:
    """Handle on a loopback server subprocess."""

    def __init__(self, port: int, process: subprocess.Popen[str]) -> None:
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.process = process

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_stats", timeout=10) as r:
            return json.loads(r.read())

    def reset(self) -> None:
        req = urllib.request.Request(self.url + "/_reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()


def _cli_args(options: dict[str, Any]) -> list[str]:
    names = {"latency": "--latency", "fault_rate": "--fault-rate", "retry_after": "--retry-after",
             "hang_s": "--hang", "hang": "--hang", "seed": "--seed", "port": "--port", "answer_kb": "--answer-kb"}
    args: list[str] = []
    for key, value in options.items():
        if key == "faults":
            value = value if isinstance(value, str) else ",".join(value)
            args += ["--faults", value]
        elif key in names:
            args += [names[key], str(value)]
        else:
            raise TypeError(f"unknown loopback server option {key!r}")
    return args


@contextlib.contextmanager
def running_server(*, startup_timeout: float = 20.0, **options: Any) -> Iterator[RunningServer]:
    """Run the server in a subprocess for the duration of the block.

    Options are ``latency``, ``fault_rate``, ``faults`` (list or comma string),
    ``retry_after``, ``hang_s``, ``seed`` and ``port``. A subprocess, not a
    thread, so the server's event loop never competes with the client's.
    """
    with server_process("tests.support.loopback_server", _cli_args(options), startup_timeout) as (port, proc):
        yield RunningServer(port, proc)


@contextlib.contextmanager
def server_process(module: str, args: list[str], startup_timeout: float
                   ) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """``python -m module args`` from the repository root for the block: (its port, the process); stopped after."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    # stderr goes to a file, not a pipe nobody drains, so a chatty server can never block.
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            yield _read_port(proc, stderr, startup_timeout), proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _read_port(proc: subprocess.Popen[str], stderr: Any, timeout: float) -> int:
    """Wait for the ``PORT <n>`` line; a server that dies first reports its stderr."""
    assert proc.stdout is not None
    result: list[str] = []

    def read() -> None:
        result.append(proc.stdout.readline())  # type: ignore[union-attr]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    line = result[0] if result else ""
    if not line.startswith("PORT "):
        proc.kill()
        proc.wait()
        stderr.seek(0)
        err = stderr.read()
        raise RuntimeError(f"loopback server did not start (got {line!r}); stderr:\n{err}")
    return int(line.split()[1])


if __name__ == "__main__":
    main()
