"""The LM layer next to plain openai-client loops, measured side by side on the same server.

Default (llm-katan, echo backend): for each server latency (0 and 200 ms) and concurrency (16, 64,
128), the same N fresh requests are sent by
  sync  — a thread pool calling `openai.OpenAI().chat.completions.create`,
  async — `openai.AsyncOpenAI` under an asyncio semaphore,
  layer — `CachedModel.generate` (fresh response cache: every request is sent, journaled, stored),
in rotating order round after round, so load drift on a shared machine hits every side alike.
With `--processes N`, a fourth side runs the layer in N worker processes, each with its own cache
and 1/N of the requests and concurrency (as the executor runs shards).
Prints requests/s per run, then medians and the ratios layer/sync and layer/async per cell.
llm-katan runs with `--max-concurrent` above the highest concurrency (its default of 1 would
serialise the latency sleeps) in its own processes.

`--llama`: the older comparison on the embedded SmolLM2 llama.cpp server (completion tokens/s).
Usage: python benchmarks/lm_throughput.py [--requests 2000] [--rounds 3] [--concurrency 16 64 128]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import openai

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.lm import CachedModel, ChatRequest, ResponseCache  # noqa: E402
from pipeline.lm.openai_compat import OpenAICompatBackend  # noqa: E402
from pipeline.lm.retry import RetryPolicy  # noqa: E402


class RetryCount(logging.Handler):
    """Counts the retries the plain clients take: the openai SDK logs each one at INFO."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += record.getMessage().startswith("Retrying request")


RETRIES = RetryCount()
_sdk_log = logging.getLogger("openai._base_client")
_sdk_log.addHandler(RETRIES)
_sdk_log.setLevel(logging.INFO)
_sdk_log.propagate = False

MODEL = "katan-echo"
# The plain clients keep the SDK's own retries (a dropped connection at concurrency 128 is retried,
# as the layer retries it); they cost nothing unless a request fails. The layer is given the SDK's
# budget and first pause, so a retry costs every side the same wall time, and each run prints the
# retries it took: one pause at the tail of a 2-second run moves a cell's ratio by a quarter.
PLAIN_RETRIES = 2
SAME_RETRIES = RetryPolicy(max_retries=PLAIN_RETRIES, initial_wait_s=0.5, max_wait_s=8.0)  # openai's defaults
Side = Callable[[str, list[ChatRequest], int], float]  # (base_url, requests, concurrency) -> seconds


def make_requests(n: int, max_tokens: int, tag: str = "") -> list[ChatRequest]:
    return [
        ChatRequest.from_messages([{"role": "user", "content": f"Write one sentence about the number {i}{tag}."}],
                                  temperature=0.8, max_tokens=max_tokens, seed=i)  # fmt: skip
        for i in range(n)
    ]


def _kwargs(model: str, r: ChatRequest) -> dict[str, object]:
    return {"model": model, "messages": r.message_dicts(), "temperature": r.temperature, "top_p": r.top_p,
            "max_tokens": r.max_tokens, "seed": r.seed}  # fmt: skip


def plain_sync(base_url: str, requests: list[ChatRequest], concurrency: int, model: str = MODEL) -> float:
    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=PLAIN_RETRIES)

    def one(r: ChatRequest) -> int:
        response = client.chat.completions.create(**_kwargs(model, r))  # type: ignore[call-overload]
        return response.usage.completion_tokens if response.usage else 0

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, requests))
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def plain_async(base_url: str, requests: list[ChatRequest], concurrency: int, model: str = MODEL) -> float:
    async def run() -> float:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=PLAIN_RETRIES)
        gate = asyncio.Semaphore(concurrency)

        async def one(r: ChatRequest) -> None:
            async with gate:
                await client.chat.completions.create(**_kwargs(model, r))  # type: ignore[call-overload]

        start = time.perf_counter()
        await asyncio.gather(*(one(r) for r in requests))
        elapsed = time.perf_counter() - start
        await client.close()
        return elapsed

    return asyncio.run(run())


def layer(base_url: str, requests: list[ChatRequest], concurrency: int, model: str = MODEL) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        backend = OpenAICompatBackend(model, base_url=base_url, api_key_env=None, retry=SAME_RETRIES)
        lm = CachedModel(backend, ResponseCache(Path(tmp) / "cache.sqlite"), max_concurrency=concurrency)
        start = time.perf_counter()
        results = lm.generate(requests)
        elapsed = time.perf_counter() - start
        lm.close()
    RETRIES.count += lm.stats.retries
    assert lm.stats.sent == len(requests) and all(r.ok for r in results), lm.stats
    return elapsed


def _layer_part(part: tuple[str, list[ChatRequest], int]) -> tuple[float, float, int]:
    """One process's share of a `LayerProcesses` run: its wall seconds, CPU seconds and retries."""
    cpu_start = time.process_time()
    RETRIES.count = 0
    elapsed = layer(*part)
    return elapsed, time.process_time() - cpu_start, RETRIES.count


class LayerProcesses:
    """The layer as a sharded build runs it: `processes` worker processes (started and warmed before
    the clock starts), each a `CachedModel` with its own response cache, an equal share of the
    requests and of the concurrency: what the layer reaches past one interpreter lock, as the
    executor spreads shards over processes."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.pool: multiprocessing.pool.Pool | None = None
        self.cpu_s = 0.0

    def __enter__(self) -> "LayerProcesses":
        self.pool = multiprocessing.get_context("spawn").Pool(self.processes)
        self.pool.map(time.sleep, [0.0] * self.processes)  # imports done before any run is timed
        return self

    def __exit__(self, *_: object) -> None:
        assert self.pool is not None
        self.pool.close()
        self.pool.join()

    def __call__(self, base_url: str, requests: list[ChatRequest], concurrency: int) -> float:
        assert self.pool is not None
        n = self.processes
        parts = [(base_url, requests[i::n], max(1, concurrency // n)) for i in range(n)]
        start = time.perf_counter()
        done = self.pool.map(_layer_part, parts, chunksize=1)
        elapsed = time.perf_counter() - start
        self.cpu_s = sum(cpu for _, cpu, _ in done)
        RETRIES.count += sum(retries for _, _, retries in done)
        return elapsed


SIDES: dict[str, Side] = {"sync": plain_sync, "async": plain_async, "layer": layer}


def katan_cells(args: argparse.Namespace) -> None:
    from tests.servers import katan_server

    sides: dict[str, Side] = dict(SIDES)
    spread = LayerProcesses(args.processes) if args.processes > 1 else None
    if spread is not None:
        sides[f"layer/{args.processes}p"] = spread
    names = list(sides)
    print(f"{args.requests} requests per run, {args.rounds} rounds, sides in rotating order: {', '.join(names)}")
    table = []
    with spread or contextlib.nullcontext():
        for latency in args.latency_ms:
            flags = ["--max-concurrent", str(4 * max(args.concurrency)), "--disable-dashboard"]
            if latency:
                flags += ["--latency-ms", str(latency)]
            with katan_server(*flags) as server:
                base_url = f"{server.url}/v1"
                plain_sync(base_url, make_requests(50, args.max_tokens, " warm-up"), 8)
                for concurrency in args.concurrency:
                    rates: dict[str, list[float]] = {side: [] for side in names}
                    cpu: dict[str, list[float]] = {side: [] for side in names}
                    retries = {side: 0 for side in names}
                    for round_no in range(args.rounds):
                        shift = round_no % len(names)
                        for side in names[shift:] + names[:shift]:
                            requests = make_requests(args.requests, args.max_tokens, f" r{round_no}")
                            RETRIES.count = 0
                            cpu_start = time.process_time()
                            elapsed = sides[side](base_url, requests, concurrency)
                            cpu_s = time.process_time() - cpu_start
                            if sides[side] is spread:
                                cpu_s = spread.cpu_s  # the worker processes' CPU, not this idle driver's
                            cpu_ms = cpu_s * 1000 / len(requests)
                            rates[side].append(len(requests) / elapsed)
                            cpu[side].append(cpu_ms)
                            retries[side] += RETRIES.count
                            print(f"latency {latency:>3} ms  concurrency {concurrency:>3}  round {round_no}  "
                                  f"{side:9}: {len(requests) / elapsed:7.1f} req/s  {cpu_ms:.2f} ms CPU/request  "
                                  f"{RETRIES.count} retries", flush=True)  # fmt: skip
                    medians = {side: statistics.median(r) for side, r in rates.items()}
                    cpu_medians = {side: statistics.median(c) for side, c in cpu.items()}
                    table.append((latency, concurrency, medians, cpu_medians, retries))
    print("\nMedians; CPU is the client side's CPU time per request, all threads (and, for layer/Np, all "
          "its processes).")
    others = names[3:]
    head = "| latency | concurrency | " + " | ".join(f"{n} req/s" for n in names) + " | layer/sync | layer/async"
    head += "".join(f" | {n} / sync" for n in others)
    print(head + f" | CPU ms/req {' / '.join(names)} | retries {' / '.join(names)} |")
    print("|---:|---:|" + "---:|" * (len(names) + 2 + len(others)) + "---|---|")
    for latency, concurrency, m, c, r in table:
        row = f"| {latency} ms | {concurrency} | " + " | ".join(f"{m[n]:.0f}" for n in names)
        row += f" | {m['layer'] / m['sync']:.2f} | {m['layer'] / m['async']:.2f}"
        row += "".join(f" | {m[n] / m['sync']:.2f}" for n in others)
        row += " | " + " / ".join(f"{c[n]:.2f}" for n in names) + " | " + " / ".join(str(r[n]) for n in names) + " |"
        print(row)


def llama_tokens(args: argparse.Namespace) -> None:
    """Completion tokens/s of the layer vs the sync client on the embedded llama.cpp server."""
    from pipeline.lm.local import LlamaCppServer
    from pipeline.lm.local_models import resolve_model_file

    server = LlamaCppServer(resolve_model_file("package:smollm2-135m-instruct", ROOT / "models"), "smollm2")
    server.start()
    try:
        requests = make_requests(args.requests, args.max_tokens)
        rates: dict[str, list[float]] = {"sync": [], "layer": []}
        for round_no in range(args.rounds):
            for side in (["layer", "sync"] if round_no % 2 == 0 else ["sync", "layer"]):
                elapsed = SIDES[side](server.base_url, requests, 2, "smollm2")  # type: ignore[call-arg]
                rates[side].append(len(requests) / elapsed)
                print(f"{side:5} concurrency=2: {len(requests) / elapsed:.2f} req/s", flush=True)
        ratio = statistics.median(rates["layer"]) / statistics.median(rates["sync"])
        print(f"ratio layer/sync (medians, llama.cpp SmolLM2) = {ratio:.3f}")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64, 128])
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 200])
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--processes", type=int, default=1,
                        help="also run the layer split over this many processes (side layer/Np)")
    parser.add_argument("--llama", action="store_true", help="the llama.cpp comparison (tokens/s) instead")
    args = parser.parse_args()
    if args.llama:
        args.requests = min(args.requests, 24)
        llama_tokens(args)
    else:
        katan_cells(args)


if __name__ == "__main__":
    main()
