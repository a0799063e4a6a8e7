"""Plain CPU weight buffers for llama.cpp on hosts where its AMX path crashes.

llama.cpp repacks weights into "extra buffer types" when the CPU offers
them. On a CPU with AMX (seen: Sapphire Rapids class, llama-cpp-python
0.3.36) loading SmolLM2 that way segfaults, which kills the whole process
rather than failing one call. llama-cpp-python's ``Llama`` does not expose
the switch (``use_extra_bufts``; the llama.cpp CLI's ``--no-repack``), so
while a model loads, the default model parameters it reads are given that
switch off. Only on AMX hosts: elsewhere repacking works and is faster.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["amx_host", "plain_cpu_buffers"]

_LOCK = threading.Lock()


def amx_host(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this (Linux) host's CPU advertises AMX tiles; False where that cannot be read."""
    try:
        with cpuinfo.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return "amx_tile" in line.split()
    except OSError:
        return False
    return False


@contextlib.contextmanager
def plain_cpu_buffers(enabled: bool | None = None) -> Iterator[None]:
    """Inside: every llama.cpp model loaded gets ``use_extra_bufts = False`` (by default only on AMX hosts)."""
    if not (amx_host() if enabled is None else enabled):
        yield
        return
    import llama_cpp.llama_cpp as native

    with _LOCK:
        original = native.llama_model_default_params

        def params():  # noqa: ANN202 - llama_cpp's ctypes struct
            p = original()
            p.use_extra_bufts = False
            return p

        native.llama_model_default_params = params
        try:
            yield
        finally:
            native.llama_model_default_params = original
