"""llama.cpp's weight repacking is switched off only where it crashes (targets/llama_buffers.py)."""

from __future__ import annotations

from pathlib import Path

import llama_cpp.llama_cpp as native

from crosslab.targets.llama_buffers import amx_host, plain_cpu_buffers


def test_amx_is_read_from_the_cpu_flags(tmp_path: Path):
    amx, plain = tmp_path / "amx", tmp_path / "plain"
    amx.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f amx_bf16 amx_tile amx_int8\n")
    plain.write_text("processor\t: 0\nflags\t\t: fpu sse avx2\n")
    assert amx_host(amx) and not amx_host(plain) and not amx_host(tmp_path / "missing")


def test_model_parameters_lose_extra_buffers_only_inside_and_only_when_asked():
    assert native.llama_model_default_params().use_extra_bufts  # llama.cpp's default: repack
    with plain_cpu_buffers(enabled=True):
        assert not native.llama_model_default_params().use_extra_bufts
    assert native.llama_model_default_params().use_extra_bufts  # restored
    with plain_cpu_buffers(enabled=False):
        assert native.llama_model_default_params().use_extra_bufts
