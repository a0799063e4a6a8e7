"""llama.cpp's OpenAI-compatible server on 127.0.0.1 with the embedded SmolLM2 model, for tests.

``llama_server(log_dir)`` starts ``python -m llama_cpp.server`` on a free port
(model alias ``smollm2``), waits until ``/v1/models`` answers, yields the base
URL (without ``/v1``) and stops the server afterwards. The server log goes to
a file, not a pipe, so a chatty server never blocks.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from crosslab.targets.local_target import default_threads, resolve_model_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: ``python -m llama_cpp.server`` with llama.cpp's AMX weight repacking off where it crashes (targets/llama_buffers.py).
_SERVE = ("import runpy, sys\n"
          "from crosslab.targets.llama_buffers import plain_cpu_buffers\n"
          "sys.argv[0] = 'llama_cpp.server'\n"
          "with plain_cpu_buffers():\n"
          "    runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)\n")


@contextlib.contextmanager
def llama_server(log_dir: Path, *, n_ctx: int = 2048, startup_s: float = 120.0,
                 threads: int | None = None) -> Iterator[str]:
    port = _free_port()
    log_path = log_dir / "llama-server.log"
    cmd = [sys.executable, "-c", _SERVE, "--model", str(resolve_model_path("smollm2")),
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--model_alias", "smollm2",
           "--n_threads", str(threads or default_threads())]
    with log_path.open("w+b") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_s
            while True:
                try:
                    urllib.request.urlopen(url + "/v1/models", timeout=2).read()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"llama.cpp server did not start: {log.read().decode()[-2000:]}")
                    time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
