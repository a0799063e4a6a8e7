"""Output tokens/s of raw llama-cpp-python vs the same prompts through crosslab on local:smollm2.

Both sides load the bundled SmolLM2-135M-Instruct GGUF with the same settings
(n_ctx 2048, one thread per CPU, seed 0) and answer the same prompts greedily
(temperature 0, max_tokens 128). Model loading is excluded from both clocks:
each side answers one warm-up prompt first.

Each pass runs in a fresh process of its own, as a user would run either: the
raw side calls ``Llama.create_chat_completion`` in a plain loop; the crosslab
side runs the prompts as items through ``execute_run`` (the engine behind
``crosslab run``: journal, llama.cpp in a worker thread, grading stage; response
cache off), in the same event loop as its warm-up call, as in a real run where
the first call loads the model. Separate processes matter: llama.cpp's OpenMP
thread teams belong to the OS thread that calls it, and a process where two
threads have called it runs slower, which would blur the comparison. Raw and
crosslab passes alternate, so drift in machine speed hits both sides alike.

Overhead = 1 − ours/raw on median tokens/s. The outputs must be identical
(greedy decoding, same seed); the script says whether they are and exits
non-zero if not.

Usage (from the repo root)::

    .venv/bin/python bench/local_model.py [--rounds 3] [--max-tokens 128]

The last line is ``RESULT raw_tps=… ours_tps=… overhead_pct=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROMPTS = [
    "Explain in a few sentences why the sky is blue.",
    "Write a short poem about the sea.",
    "What is the capital of France, and what is it known for?",
    "Give three tips for writing clean Python code.",
    "Describe how a bicycle works.",
    "What are the main differences between cats and dogs as pets?",
    "Summarise the plot of a detective story in a few sentences.",
    "How do plants make food from sunlight?",
    "List some healthy breakfast ideas.",
    "Why is it important to get enough sleep?",
    "Tell me a fun fact about the moon.",
    "How would you explain a computer to a child?",
]
WARMUP = "Say hello."


def _llama_kwargs(seed: int) -> dict[str, Any]:
    return {"n_ctx": 2048, "n_threads": os.cpu_count() or 1, "seed": seed, "verbose": False}


def side_raw(prompts: list[str], max_tokens: int, seed: int) -> dict[str, Any]:
    from llama_cpp import Llama

    from crosslab.targets.llama_buffers import plain_cpu_buffers
    from crosslab.targets.local_target import resolve_model_path

    with plain_cpu_buffers():  # as the local target loads it (AMX hosts crash otherwise)
        llama = Llama(model_path=str(resolve_model_path("smollm2")), **_llama_kwargs(seed))

    def ask(prompt: str) -> dict[str, Any]:
        return llama.create_chat_completion(messages=[{"role": "user", "content": prompt}],
                                            temperature=0.0, max_tokens=max_tokens, seed=seed)

    ask(WARMUP)  # not timed
    texts: list[str] = []
    tokens = 0
    t0 = time.perf_counter()
    for prompt in prompts:
        out = ask(prompt)
        texts.append(out["choices"][0]["message"]["content"] or "")
        tokens += out["usage"]["completion_tokens"]
    return {"seconds": time.perf_counter() - t0, "tokens": tokens, "texts": texts, "threads": os.cpu_count()}


def side_ours(prompts: list[str], max_tokens: int, seed: int) -> dict[str, Any]:
    from crosslab.run.session import RunConfig, create_journal, execute_run
    from crosslab.items.item import Item
    from crosslab.targets.base import ChatRequest
    from crosslab.targets.registry import create_target, parse_target

    deployment = parse_target("local:smollm2", {"max_tokens": max_tokens, "temperature": 0.0, "seed": seed})
    target = create_target(deployment)
    items = [Item.model_validate({"id": f"p{i:02d}", "input": p}) for i, p in enumerate(prompts)]
    config = RunConfig(deployment, items, {"items_file": "bench/local_model.py"})

    with tempfile.TemporaryDirectory(prefix="crosslab-bench-local-") as out:
        async def run() -> tuple[float, Any, Any]:
            await target.complete(ChatRequest([{"role": "user", "content": WARMUP}]))  # loads; not timed
            t0 = time.perf_counter()
            journal = create_journal(Path(out), config)
            summary = await execute_run(config, target, journal, cache=None, environments={})
            return time.perf_counter() - t0, journal, summary

        seconds, journal, summary = asyncio.run(run())
        records = {r["item_id"]: r for r in journal.records()}
        journal.close()
    if summary.ok != len(items):
        errors = [r["error"] for r in records.values() if r["status"] != "ok"]
        sys.exit(f"bench: crosslab run had errors: {errors[:3]}")
    return {"seconds": seconds, "tokens": sum(r["stats"]["usage"]["output_tokens"] for r in records.values()),
            "texts": [records[i.id]["messages"][-1]["content"] for i in items],
            "threads": getattr(target, "_n_threads", None)}


def run_side(side: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--max-tokens", str(args.max_tokens),
           "--prompts", str(args.prompts)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("SIDE ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"bench: the {side} pass failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("SIDE "):])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="alternating raw/crosslab passes; medians are reported")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--prompts", type=int, default=len(PROMPTS), help=f"how many prompts (at most {len(PROMPTS)})")
    p.add_argument("--side", choices=("raw", "ours"), help=argparse.SUPPRESS)  # one pass, in a child process
    args = p.parse_args(argv)
    args.prompts = max(1, min(args.prompts, len(PROMPTS)))
    prompts = PROMPTS[: args.prompts]
    seed = 0

    if args.side:
        fn = side_raw if args.side == "raw" else side_ours
        print("SIDE " + json.dumps(fn(prompts, args.max_tokens, seed)))
        return 0

    from crosslab.targets.local_target import resolve_model_path

    print(f"local model benchmark: {resolve_model_path('smollm2').name}, {len(prompts)} prompts, "
          f"max_tokens {args.max_tokens}, temperature 0, seed {seed}, n_threads {os.cpu_count()}, "
          f"{args.rounds} round(s), each pass in a fresh process", flush=True)
    raw_tps: list[float] = []
    ours_tps: list[float] = []
    identical = True
    for r in range(1, args.rounds + 1):
        raw = run_side("raw", args)
        ours = run_side("ours", args)
        if ours["threads"] != raw["threads"]:
            print(f"note: crosslab uses {ours['threads']} threads, raw {raw['threads']}")
        raw_tps.append(raw["tokens"] / raw["seconds"])
        ours_tps.append(ours["tokens"] / ours["seconds"])
        same = raw["texts"] == ours["texts"] and raw["tokens"] == ours["tokens"]
        identical = identical and same
        print(f"  round {r}: raw {raw['tokens']} tokens in {raw['seconds']:.2f}s = {raw_tps[-1]:6.1f} tok/s | "
              f"crosslab {ours['tokens']} tokens in {ours['seconds']:.2f}s = {ours_tps[-1]:6.1f} tok/s | "
              f"identical texts: {'yes' if same else 'NO'}", flush=True)
        if not same:
            for i, (a, b) in enumerate(zip(raw["texts"], ours["texts"])):
                if a != b:
                    print(f"    first difference, prompt {i}: raw {a[:80]!r} vs crosslab {b[:80]!r}")
                    break

    raw_med = statistics.median(raw_tps)
    ours_med = statistics.median(ours_tps)
    overhead = 100.0 * (1.0 - ours_med / raw_med)
    print()
    print("| side | median output tokens/s | per round |")
    print("|---|---|---|")
    print(f"| raw llama-cpp-python | {raw_med:.1f} | {', '.join(f'{x:.1f}' for x in raw_tps)} |")
    print(f"| crosslab (execute_run, local:smollm2) | {ours_med:.1f} | "
          f"{', '.join(f'{x:.1f}' for x in ours_tps)} |")
    print()
    print(f"overhead {overhead:+.1f}% (target ≤ 5%): {'met' if overhead <= 5.0 else 'MISSED'}; "
          f"identical texts in every round: {'yes' if identical else 'NO'}")
    print(f"RESULT raw_tps={raw_med:.1f} ours_tps={ours_med:.1f} overhead_pct={overhead:.2f} "
          f"identical={'yes' if identical else 'no'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
