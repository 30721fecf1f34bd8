"""The build's first four stages at 100k prompts: peak memory and Prefect's share of wall time.

Runs ingest (validation, normalization, exact and embedding near-duplicate dedup) ->
decontaminate (bundled eval sets) -> route (by the `subset` tag) -> generate (one sample per
prompt from llm-katan's echo backend, an openai-backend model on loopback), and prints, measured
side by side in one run:
- per-stage counts (in / kept / dropped / failed) and times;
- Prefect's share of wall time: the same stages called directly through `pipeline.stages` and
  through a Prefect flow calling the build flow's own tasks (`flows.build.StageCaller`);
  share = (flow wall - direct wall) / flow wall;
- peak RSS (ru_maxrss) of each pass, read inside its own child process;
- generation requests/s, and the pipeline LM layer against a plain openai-client loop on the
  same katan at the same concurrency (a sample, alternating rounds, median).

An untimed warm-up pass first fills the embedding cache (prompts and eval sets); the direct and
flow passes then each get a fresh output dir and a fresh LM response cache, so both send every
request. The first run writes the prompts and encodes them (~5-10 min on 2 cores); the
embeddings stay in --cache-dir for later runs.

    .venv/bin/python benchmarks/scale_100k.py [--prompts 100000] [--cache-dir outputs/.bench-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # flows.processes below, when run from elsewhere
from flows.processes import descendants, stop  # noqa: E402  (stdlib only: keeps this process small)
from tests.servers import wait_http  # noqa: E402  (the same readiness poll the tests use)

MODEL = "katan-echo"
STAGES = ("ingest", "decontaminate", "route", "generate")
DEFAULT_EVAL_SETS = "gsm8k,math,mmlu,alpaca_eval,arena_hard"
PASSES = ("warmup", "direct", "flow", "lmcompare")


# ---------------------------------------------------------------- child side (one per pass)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_s() -> float:
    """CPU seconds of this process, all threads: steadier than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _prompt_texts(n: int, seed: int) -> list[str]:
    """decontam_scale's pool: n distinct question-like prompts of 8-40 words, 1% of them a synthetic
    eval item behind a lead-in (distinct too). The same recipe, so its embedding cache applies."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import random

    from decontam_scale import synthetic

    texts, evals = synthetic(n, seed), synthetic(50_000, seed + 1)
    rng = random.Random(seed + 2)
    for i in rng.sample(range(n), n // 100):
        texts[i] = "Quick question: " + evals[rng.randrange(len(evals))]
    return texts


def _write_prompts(path: Path, texts: list[str]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as handle:
        for i, text in enumerate(texts):
            handle.write(json.dumps({"id": f"s{i}", "prompt": text, "subset": "math"}) + "\n")
    tmp.replace(path)


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _seed_embeddings(spec: dict[str, Any], texts: list[str]) -> int:
    """Reuse vectors other runs computed (files are named by content hash, so only exact matches
    apply): the eval sets from the project's embedding cache, the pool from decontam_scale's."""
    from pipeline.decontam.embed import content_hash
    from pipeline.core.records import normalize

    embed_dir = Path(spec["config"]["embeddings"]["cache_dir"])
    seeded = 0
    for src in sorted((ROOT / "outputs" / ".embed-cache").glob("*/evalset-*.npy")):
        dst = embed_dir / src.parent.name / src.name
        if not dst.exists():
            _link(src, dst)
            seeded += 1
    normalized = [normalize(t) for t in texts]
    first: dict[str, int] = {}  # ingest embeds the pool after exact dedup: first occurrences, in order
    for i, text in enumerate(normalized):
        first.setdefault(text, i)
    keep = list(first.values())
    digest = content_hash([normalized[i] for i in keep])
    for src in sorted(Path(spec["bench_cache"]).glob(f"*/bench-prompts-{content_hash(normalized)}.npy")):
        dst = embed_dir / src.parent.name / f"pool-{digest}.npy"
        if not dst.exists():
            import numpy as np

            dst.parent.mkdir(parents=True, exist_ok=True)
            np.save(dst, np.load(src)[keep])
            seeded += 1
    return seeded


def _reasons(out: Any) -> dict[str, int]:
    """Counts by decision:reason from the stage's decision log (read after the timed part)."""
    import pyarrow.parquet as pq

    path = Path(out.path).parent / "decisions.parquet"
    table = pq.read_table(path, columns=["decision", "reason"])
    counts: dict[str, int] = {}
    for d, r in zip(table.column("decision").to_pylist(), table.column("reason").to_pylist()):
        counts[f"{d}:{r}"] = counts.get(f"{d}:{r}", 0) + 1
    return counts


def _stage_report(outs: dict[str, Any]) -> dict[str, Any]:
    return {name: {"counts": out.counts, "reasons": _reasons(out)} for name, out in outs.items()}


def _direct_stages(spec: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    start = time.perf_counter()
    from pipeline.core.config import BuildConfig
    from pipeline.stages.context import RunContext
    from pipeline.stages.table import STAGES

    imported = time.perf_counter() - start
    ctx = RunContext(BuildConfig.model_validate(spec["config"]), ROOT, f"bench-{spec['pass']}")
    calls: dict[str, Callable[..., Any]] = {
        s.name: (lambda s=s: s.run(ctx, *(outs[u] for u in s.upstream))) for s in STAGES if s.name in names
    }
    outs: dict[str, Any] = {}
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    wall, cpu_all = time.perf_counter(), _cpu_s()
    for name in names:
        t, c = time.perf_counter(), _cpu_s()
        outs[name] = calls[name]()
        times[name], cpu[name] = time.perf_counter() - t, _cpu_s() - c
        print(f"[{spec['pass']}] {name}: {times[name]:.1f} s {outs[name].counts}", flush=True)
    wall, cpu_all = time.perf_counter() - wall, _cpu_s() - cpu_all
    return {"import_s": imported, "wall_s": wall, "cpu_s": cpu_all, "times": times, "cpu": cpu,
            "stages": _stage_report(outs)}  # fmt: skip


def _flow_stages(spec: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    from prefect import flow

    from flows import build as fb
    from pipeline.core.config import BuildConfig

    imported = time.perf_counter() - start

    @flow(name="scale-100k-startup")
    def startup() -> int:
        return 1

    @flow(name="scale-100k-build", log_prints=True)
    def bench_build(config_json: str) -> dict[str, Any]:
        """`flows.build._build_stages` up to generate: the same tasks, called the same way."""
        cfg = BuildConfig.model_validate_json(config_json)
        times: dict[str, float] = {}
        cpu: dict[str, float] = {}
        t, c = time.perf_counter(), _cpu_s()
        stage = fb.StageCaller(cfg, ROOT)
        times["cache inputs"], cpu["cache inputs"] = time.perf_counter() - t, _cpu_s() - c
        outs: dict[str, Any] = {}
        for name in ("ingest", "decontaminate", "route", "generate"):
            t, c = time.perf_counter(), _cpu_s()
            outs[name] = stage(fb.BY_NAME[name])  # its cache inputs are hashed inside, as in a build
            times[name], cpu[name] = time.perf_counter() - t, _cpu_s() - c
            print(f"[flow] {name}: {times[name]:.1f} s {outs[name].counts}")
        return {"times": times, "cpu": cpu, "outs": outs, "cached": list(stage.cached)}

    t = time.perf_counter()
    startup()  # starts the temporary local API server (when no PREFECT_API_URL is set): timed apart
    startup_s = time.perf_counter() - t
    config_json = BuildConfig.model_validate(spec["config"]).model_dump_json()
    t, c = time.perf_counter(), _cpu_s()
    result = bench_build(config_json)
    wall, cpu_all = time.perf_counter() - t, _cpu_s() - c
    return {"import_s": imported, "startup_s": startup_s, "wall_s": wall, "cpu_s": cpu_all, "times": result["times"],
            "cpu": result["cpu"], "cached": result["cached"], "stages": _stage_report(result["outs"])}  # fmt: skip


def _lm_compare(spec: dict[str, Any]) -> dict[str, Any]:
    """The same requests through the pipeline's LM layer (fresh response cache, so all are sent)
    and through a plain openai client loop, at the same concurrency; alternating rounds."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    import openai

    from pipeline.lm import CachedModel, ChatRequest, ResponseCache
    from pipeline.lm.openai_compat import OpenAICompatBackend

    texts = []
    with open(spec["prompts_path"]) as handle:
        for line in handle:
            texts.append(json.loads(line)["prompt"])
            if len(texts) >= spec["sample"]:
                break
    requests = [ChatRequest.from_messages([{"role": "user", "content": t}], temperature=1.0, max_tokens=64, seed=i)
                for i, t in enumerate(texts)]  # fmt: skip
    base_url, concurrency = spec["base_url"], spec["concurrency"]

    def direct() -> float:
        client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)

        def one(r: ChatRequest) -> None:
            client.chat.completions.create(model=MODEL, messages=r.message_dicts(), temperature=r.temperature,  # type: ignore[arg-type]
                                           top_p=r.top_p, max_tokens=r.max_tokens, seed=r.seed)  # fmt: skip

        t = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, requests))
        elapsed = time.perf_counter() - t
        client.close()
        return elapsed

    def pipeline() -> float:
        with tempfile.TemporaryDirectory(dir=spec["tmp_dir"]) as tmp:
            backend = OpenAICompatBackend(MODEL, base_url=base_url, api_key_env=None, schema_style="off")
            model = CachedModel(backend, ResponseCache(Path(tmp) / "c.sqlite"), max_concurrency=concurrency)
            t = time.perf_counter()
            results = model.generate(requests)
            elapsed = time.perf_counter() - t
            model.cache.close()  # type: ignore[union-attr]
            model.close()
        if model.stats.sent != len(requests) or not all(r.ok for r in results):
            raise RuntimeError(f"pipeline side: {model.stats.failed} of {len(requests)} requests failed")
        return elapsed

    rates: dict[str, list[float]] = {"direct": [], "pipeline": []}
    runners = {"direct": direct, "pipeline": pipeline}
    for round_no in range(spec["rounds"]):
        for side in ("pipeline", "direct") if round_no % 2 == 0 else ("direct", "pipeline"):
            rate = len(requests) / runners[side]()
            rates[side].append(rate)
            print(f"[lmcompare] {side}: {rate:.0f} req/s", flush=True)
    ratio = statistics.median(p / d for p, d in zip(rates["pipeline"], rates["direct"]))
    return {"requests": len(requests), "rates": rates, "ratio": ratio}


def child_main(pass_name: str, spec_path: Path) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run finally blocks (Prefect's server stop)
    spec = json.loads(spec_path.read_text())
    result: dict[str, Any] = {"pass": pass_name}
    if pass_name == "warmup":
        prompts = Path(spec["prompts_path"])
        texts = _prompt_texts(spec["prompts"], spec["seed"])
        if not prompts.is_file():
            _write_prompts(prompts, texts)
        result["seeded_embeddings"] = _seed_embeddings(spec, texts)
        result.update(_direct_stages(spec, ("ingest", "decontaminate")))
    elif pass_name == "direct":
        result.update(_direct_stages(spec, STAGES))
    elif pass_name == "flow":
        result.update(_flow_stages(spec))
    elif pass_name == "lmcompare":
        result.update(_lm_compare(spec))
    else:
        raise SystemExit(f"unknown pass {pass_name!r}")
    result["peak_rss_mib"] = _peak_rss_mib()
    out = Path(spec["result_path"])
    out.with_suffix(".tmp").write_text(json.dumps(result, indent=1, default=str))
    out.with_suffix(".tmp").replace(out)


# ---------------------------------------------------------------- parent side


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process and everything below it, SIGKILL what outlives 10 s; then whatever is
    left in its process group (it leads its own session: orphans of an exited child stay there)."""
    if process.poll() is None:
        stop([process.pid, *descendants(process.pid)])
    process.wait()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _group_alive(process.pid):
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _group_alive(process.pid):
            time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def eval_set_specs(names: str) -> list[str]:
    specs = []
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        files = sorted((ROOT / "data" / "evalsets" / name).glob("items.jsonl*"))
        if not files:
            raise SystemExit(f"no bundled eval set {name!r} under data/evalsets")
        specs.append(f"{name}={files[0].relative_to(ROOT)}")
    return specs


def build_config(
    version: str, args: argparse.Namespace, runs: Path, prompts: Path, base_url: str
) -> dict[str, Any]:
    return {
        "version": version,
        "output_dir": str(runs),
        "lm_cache": str(runs / version / "lm-cache.sqlite"),  # fresh per pass: every request is sent
        "models": [{"name": MODEL, "backend": "openai", "base_url": base_url, "structured_outputs": "off",
                    "max_concurrency": args.concurrency}],  # fmt: skip
        "sources": [{"name": "bench", "path": str(prompts), "metadata_fields": ["subset"]}],
        "embeddings": {"cache_dir": str(args.cache_dir / "scale-embed")},
        "decontamination": {"eval_sets": eval_set_specs(args.eval_sets)},
        "routing": {"mode": "tags", "field": "subset"},
        "subsets": {
            "math": {"models": [MODEL], "samples_per_model": 1, "temperature": 1.0, "max_tokens": 64}
        },
    }


class Runner:
    """Starts the passes as child processes and stops every process it started."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.processes: list[subprocess.Popen[bytes]] = []
        self.runs = args.cache_dir / "scale-runs"

    def start(self, cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with log.open("wb") as handle:  # the child keeps its own descriptor
            process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                       env=env, cwd=ROOT, start_new_session=True)  # fmt: skip
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            stop_tree(process)
        self.processes.clear()

    def katan(self) -> str:
        port = free_port()
        exe = Path(sys.executable).parent / "llm-katan"
        cmd = [str(exe if exe.exists() else "llm-katan"), "--model", MODEL, "--backend", "echo",
               "--providers", "openai", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--disable-dashboard", "--stats-file", str(self.runs / "katan-stats.json"),
               "--workers", str(self.args.katan_workers)]  # fmt: skip
        process = self.start(cmd, self.runs / "katan.log")
        wait_http(f"http://127.0.0.1:{port}/health", 60, process)
        return f"http://127.0.0.1:{port}/v1"

    def child(self, pass_name: str, spec: dict[str, Any]) -> dict[str, Any] | None:
        spec_path = self.runs / f"{pass_name}.spec.json"
        result_path = self.runs / f"{pass_name}.result.json"
        result_path.unlink(missing_ok=True)
        spec_path.write_text(json.dumps({**spec, "pass": pass_name, "result_path": str(result_path)}))
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_UI_ENABLED": "false", "PREFECT_HOME": str(self.runs / "prefect-home")}  # fmt: skip
        log = self.runs / f"{pass_name}.log"
        print(f"pass {pass_name}: running (log: {log})", flush=True)
        t = time.perf_counter()
        process = self.start([sys.executable, str(Path(__file__).resolve()), "--child", pass_name,
                              "--spec", str(spec_path)], log, env)  # fmt: skip
        rc = process.wait()
        self.processes.remove(process)
        stop_tree(process)  # anything it left behind
        elapsed = time.perf_counter() - t
        if rc != 0 or not result_path.is_file():
            tail = log.read_text(errors="replace").splitlines()[-25:]
            message = (f"pass {pass_name} failed (exit {rc}) after {elapsed:.0f} s; last lines of {log}:\n"
                       + "\n".join(tail))  # fmt: skip
            if not self.args.keep_going:
                raise RuntimeError(message)
            print(message, flush=True)
            return None
        result = json.loads(result_path.read_text())
        result["process_s"] = elapsed
        rss = result["peak_rss_mib"]
        print(f"pass {pass_name}: done in {elapsed:.0f} s, peak RSS {rss:.0f} MiB", flush=True)
        return result


def _fmt_counts(counts: dict[str, int]) -> tuple[int, int, int, int]:
    return counts.get("in", 0), counts.get("kept", 0), counts.get("dropped", 0), counts.get("failed", 0)


def report(args: argparse.Namespace, results: dict[str, dict[str, Any] | None], base_info: str) -> None:
    warm, direct, flowed, lm = (results.get(p) for p in PASSES)
    print()
    print(f"== scale_100k: {args.prompts} prompts; {base_info}")
    if warm:
        note = f", {warm['seeded_embeddings']} embedding files reused from earlier runs' caches"
        print(f"warm-up (untimed; fills the embedding cache): ingest+decontaminate {warm['wall_s']:.0f} s{note}, "
              f"peak RSS {warm['peak_rss_mib']:.0f} MiB")  # fmt: skip
    ref = direct or flowed
    if ref:
        print(f"{'stage':<14}{'in':>8}{'kept':>8}{'dropped':>9}{'failed':>8}  {'direct s':>9}{'flow s':>9}"
              f"{'flow-direct':>12}  {'direct cpu s':>13}{'flow cpu s':>11}")  # fmt: skip

        def cell(r: dict[str, Any] | None, key: str, name: str) -> float | None:
            return r[key].get(name) if r and key in r else None

        def num(value: float | None, width: int, sign: str = "") -> str:
            return f"{value:>{sign}{width}.1f}" if value is not None else f"{'-':>{width}}"

        for name in ("cache inputs", *STAGES):
            counts = ref["stages"].get(name, {}).get("counts")
            if counts is None and cell(flowed, "times", name) is None:
                continue
            n_in, kept, dropped, failed = _fmt_counts(counts) if counts else ("", "", "", "")
            d, f = cell(direct, "times", name), cell(flowed, "times", name)
            diff = f - (d or 0.0) if f is not None and (d is not None or counts is None) else None
            print(f"{name:<14}{n_in:>8}{kept:>8}{dropped:>9}{failed:>8}  {num(d, 9)}{num(f, 9)}{num(diff, 12, '+')}  "
                  f"{num(cell(direct, 'cpu', name), 13)}{num(cell(flowed, 'cpu', name), 11)}")  # fmt: skip
        for name in STAGES:
            reasons = ref["stages"].get(name, {}).get("reasons", {})
            other = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()) if not k.startswith("kept"))
            if other:
                print(f"  {name} drops/failures: {other}")
        gen = ref["stages"].get("generate", {}).get("counts", {})
        print(f"  generate LM requests: {gen.get('lm_sent', 0)} sent, {gen.get('lm_cache_hits', 0)} from cache, "
              f"{gen.get('lm_failed', 0)} failed, {gen.get('lm_retries', 0)} retries")  # fmt: skip
    if direct and flowed:
        dw, fw = direct["wall_s"], flowed["wall_s"]
        share = (fw - dw) / fw
        d_all = direct["import_s"] + dw
        f_all = flowed["import_s"] + flowed["startup_s"] + fw
        print(f"wall: direct {dw:.1f} s, flow {fw:.1f} s (flow call only; Prefect API start-up {flowed['startup_s']:.1f} s "
              f"and imports {flowed['import_s']:.1f} s apart; direct imports {direct['import_s']:.1f} s)")  # fmt: skip
        print(f"Prefect share of wall time = (flow - direct) / flow = {100 * share:.1f}% (target <= 5%); "
              f"with imports and API start-up: {100 * (f_all - d_all) / f_all:.1f}%")  # fmt: skip
        if "cpu_s" in direct and "cpu_s" in flowed:
            dc, fc = direct["cpu_s"], flowed["cpu_s"]
            print(f"CPU time of the pass's own process (all threads; steadier than wall on a shared machine): "
                  f"direct {dc:.1f} s, flow {fc:.1f} s; (flow - direct) / flow = {100 * (fc - dc) / fc:.1f}%")  # fmt: skip
        if flowed.get("cached"):
            print(f"  WARNING: the flow reused cached stages {flowed['cached']}: the comparison is not fair")
    rss = [f"{p} {r['peak_rss_mib']:.0f} MiB" for p, r in results.items() if r and p != "lmcompare"]
    worst = max((r["peak_rss_mib"] for p, r in results.items() if r and p != "lmcompare"), default=0.0)
    print(f"peak RSS (ru_maxrss of each pass's own process): {', '.join(rss)}; "
          f"max {worst / 1024:.2f} GiB (target <= 2 GiB)")  # fmt: skip
    rates = []
    for label, r in (("direct pass", direct), ("flow pass", flowed)):
        if r and "generate" in r["times"]:
            sent = r["stages"]["generate"]["counts"].get("lm_sent", 0)
            rates.append(f"{label} {sent / r['times']['generate']:.0f} req/s")
    if rates:
        print(f"generation (whole stage, {args.concurrency} concurrent): " + ", ".join(rates))
    if lm:
        p, d = statistics.median(lm["rates"]["pipeline"]), statistics.median(lm["rates"]["direct"])
        print(f"LM layer on {lm['requests']} requests at concurrency {args.concurrency}: pipeline CachedModel "
              f"{p:.0f} req/s, plain openai client {d:.0f} req/s; ratio pipeline/direct = {lm['ratio']:.3f} "
              f"(median of {len(lm['rates']['direct'])} alternating rounds)")  # fmt: skip
        if direct and "generate" in direct["times"]:
            sent = direct["stages"]["generate"]["counts"].get("lm_sent", 0)
            stage_rate = sent / direct["times"]["generate"]
            print(f"generate stage (direct pass) / plain openai client = {stage_rate / d:.3f}")


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=100_000)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "outputs" / ".bench-cache",
                        help="prompts, embeddings, run dirs and logs (embeddings are reused across runs)")  # fmt: skip
    parser.add_argument("--eval-sets", default=DEFAULT_EVAL_SETS,
                        help="bundled eval sets (data/evalsets), comma-separated")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=16, help="max_concurrency of the katan model")
    parser.add_argument("--katan-workers", type=int, default=2)
    parser.add_argument("--compare-sample", type=int, default=5000,
                        help="requests per LM-layer comparison round (0: skip)")  # fmt: skip
    parser.add_argument("--compare-rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-going", action="store_true", help="report what finished when a pass fails")
    parser.add_argument("--keep-runs", action="store_true", help="keep the run dirs (stage tables)")
    parser.add_argument("--child", choices=PASSES, help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.spec)
        return

    args.cache_dir = args.cache_dir.resolve()
    runner = Runner(args)
    shutil.rmtree(runner.runs, ignore_errors=True)  # fresh output dirs, LM caches and Prefect home
    runner.runs.mkdir(parents=True)
    prompts_path = args.cache_dir / f"scale-prompts-{args.prompts}-seed{args.seed}.jsonl"

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    results: dict[str, dict[str, Any] | None] = {}
    try:
        base_url = runner.katan()
        print(f"llm-katan (echo, {args.katan_workers} workers) at {base_url}", flush=True)
        for pass_name in PASSES:
            if pass_name == "lmcompare":
                if args.compare_sample <= 0:
                    continue
                spec: dict[str, Any] = {"prompts_path": str(prompts_path), "sample": min(args.compare_sample, args.prompts),
                                        "rounds": args.compare_rounds, "base_url": base_url,
                                        "concurrency": args.concurrency, "tmp_dir": str(runner.runs)}  # fmt: skip
            else:
                spec = {"config": build_config(pass_name, args, runner.runs, prompts_path, base_url),
                        "prompts_path": str(prompts_path), "prompts": args.prompts, "seed": args.seed,
                        "bench_cache": str(args.cache_dir)}  # fmt: skip
            results[pass_name] = runner.child(pass_name, spec)
    finally:
        runner.stop_all()
    sets = ", ".join(s.split("=")[0] for s in eval_set_specs(args.eval_sets))
    ref = results.get("direct") or results.get("flow") or results.get("warmup")
    if ref and "decontaminate" in ref["stages"]:
        c = ref["stages"]["decontaminate"]["counts"]
        sets = ", ".join(f"{k[len('evalset_'):]} {v}" for k, v in c.items() if k.startswith("evalset_"))
    info = f"eval sets: {sets}; llm-katan echo, {args.katan_workers} workers, concurrency {args.concurrency}"
    report(args, results, info)
    (args.cache_dir / f"scale-{args.prompts}-results.json").write_text(json.dumps(results, indent=1, default=str))
    if not args.keep_runs:
        for pass_name in ("warmup", "direct", "flow"):
            shutil.rmtree(runner.runs / pass_name, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as exc:
        sys.exit(f"interrupted ({exc or 'Ctrl-C'}); every process this run started is stopped")
