"""Scale-out on this machine: the sharded stages on the local executor vs a Ray cluster of 2 workers,
and ingest + tag routing at 1M prompts; wall time, requests/s and the driver's peak RSS.

(a) route -> generate -> label over --prompts prompts (default 100k) against llm-katan's echo
    backend with --latency-ms 200, once with `executor: {kind: local}` (the default: one shard, this
    process) and once with `executor: {kind: ray, num_cpus: 2, shards: 16, cpus_per_shard: 1}` (a
    Ray cluster the build starts on this machine: 2 shard tasks at a time). The subset is the test
    suite's Echo plugin (tests/echo_plugin.py) with one plain sample per prompt, so generate sends
    one request per prompt; Echo's labeler checks a marker word and sends no LM request, so label
    times the sharded stage's own machinery (reading the inputs per shard, parts, concatenation,
    the decision log). Both passes use the same model max_concurrency (held cluster-wide on Ray).
    Ingest and decontamination (near-duplicate embedding off, no eval sets) run once beforehand in
    their own child process, untimed for the comparison (their times are printed apart); both passes
    route the same decontaminated table.
(b) ingest (validation, normalization, exact dedup; near-duplicate embedding off: encoding 1M
    texts takes over an hour on 2 cores) -> decontaminate (no eval sets: a pass-through) -> route
    (tags) over --ingest-prompts prompts (default 1M), timed per stage.

Every pass runs in its own child process with a fresh output dir and a fresh LM response cache
(so both executors send every request); its peak RSS is ru_maxrss read inside the child (the
driver; Ray's own processes are sampled apart from /proc and printed as well). The prompt files
(JSONL: id, prompt, subset tag; varied question text with ~1% exact repeats) are written once
under --cache-dir.

    .venv/bin/python benchmarks/scale_ray.py [--prompts 100000] [--ingest-prompts 1000000]
        [--concurrency 64] [--shards 16] [--skip-1m] [--skip-ray-compare]
    quick check:  ... --prompts 2000 --ingest-prompts 20000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.scale_100k import Runner as PassRunner, _peak_rss_mib, free_port, stop_tree  # noqa: E402  (stdlib only: keeps this process small)
from flows.processes import descendants  # noqa: E402
from tests.servers import wait_http  # noqa: E402

MODEL = "katan-echo"
COMPARE = ("route", "generate", "label")
INGEST = ("ingest", "decontaminate", "route")

# ---------------------------------------------------------------- prompts

TOPICS = ("a sourdough starter", "the French revolution", "binary search trees", "a leaking faucet", "compound interest",
          "photosynthesis", "a job interview", "the Rust borrow checker", "marathon training", "a cover letter",
          "black holes", "a vegetable garden", "SQL joins", "the Roman empire", "a wedding toast", "climate models",
          "jazz harmony", "a used car", "Kubernetes pods", "the immune system", "a chess opening", "tax deductions",
          "a birthday party", "quantum entanglement", "a sleeping toddler", "the stock market", "a haiku",
          "regular expressions", "a sprained ankle", "the water cycle", "a startup pitch", "Byzantine art",
          "a noisy neighbour", "linear regression", "coral reefs", "a small bakery", "the Pythagorean theorem",
          "a podcast intro", "volcanic eruptions", "an apartment lease")  # fmt: skip
ASKS = ("Explain {t} to a {who}.", "What are the {n} most common mistakes people make with {t}?",
        "Write a short {form} about {t}{twist}.", "How would you compare {t} and {u} for a {who}?",
        "Give me a step-by-step plan for dealing with {t} in {n} days.", "Why does {t} matter{twist}?",
        "Summarize the history of {t} in {n} sentences.", "I am a {who}. Can you help me understand {t}?",
        "List {n} questions a {who} might ask about {t}, with answers.",
        "What is the difference between {t} and {u}? Keep it under {m} words.",
        "Draft an email to my {rel} about {t}{twist}.", "Is it true that {t} is related to {u}? Explain briefly.")  # fmt: skip
WHO = ("five-year-old", "high-school student", "retired engineer", "busy parent", "software developer", "nurse",
       "first-year lawyer", "non-native speaker", "museum guide", "farmer")  # fmt: skip
FORMS = ("poem", "story", "dialogue", "limerick", "news report", "product description", "speech", "riddle")
TWISTS = ("", "", "", " in the style of a pirate", " without using the letter e", " for a rainy afternoon",
          " using only simple words", " with a surprising ending", " as if it were 1850", " in a formal tone")  # fmt: skip
RELS = ("landlord", "manager", "grandmother", "team", "neighbour", "professor", "dentist", "coach")


def prompt_texts(n: int, seed: int) -> Any:
    """n question-like prompts from templates and slots, ~1% of them an exact repeat of an earlier one
    (exact dedup drops those); yields (id, text)."""
    rng = random.Random(seed)
    recent: list[str] = []
    for i in range(n):
        if recent and rng.random() < 0.01:
            text = rng.choice(recent)
        else:
            text = rng.choice(ASKS).format(
                t=rng.choice(TOPICS), u=rng.choice(TOPICS), who=rng.choice(WHO), n=rng.randint(2, 12),
                m=rng.choice((50, 80, 100, 150, 200, 300)), form=rng.choice(FORMS), twist=rng.choice(TWISTS),
                rel=rng.choice(RELS),
            )  # fmt: skip
            text += f" (context #{rng.randrange(10**7)})" if rng.random() < 0.9 else ""
            if len(recent) < 5000:
                recent.append(text)
            else:
                recent[rng.randrange(5000)] = text
        yield f"p{i}", text


def write_prompts(path: Path, n: int, seed: int) -> None:
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as handle:
        for pid, text in prompt_texts(n, seed):
            handle.write(json.dumps({"id": pid, "prompt": text, "subset": "echo"}) + "\n")
    tmp.replace(path)


# ---------------------------------------------------------------- child side (one per pass)


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_s(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def tree_cpu_s(root: int) -> float:
    return sum(cpu_s([root, *descendants(root)]).values())


class TreeSampler:
    """Peak of the summed RSS of this process's descendants (Ray's GCS, raylet and workers when the
    build starts its own cluster), sampled every `every_s` seconds from /proc, and their CPU
    seconds as last seen (a process that exits between samples loses its last seconds)."""

    def __init__(self, every_s: float = 2.0):
        self.every_s, self.peak_sum, self.peak_one, self.count = every_s, 0.0, 0.0, 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            pids = descendants(os.getpid())
            sizes = [_rss_mib(pid) for pid in pids]
            self.cpu.update(cpu_s(pids))
            self.peak_sum, self.peak_one = max(self.peak_sum, sum(sizes)), max([self.peak_one, *sizes])
            self.count = max(self.count, len(sizes))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _shard_spans(run_dir: Path, stage: str) -> dict[str, Any] | None:
    """From the stage's shards.json: the span from the first shard's start to the last one's end,
    and the shards' own seconds summed (the rest of the stage's wall time is the driver's)."""
    path = run_dir / stage / "shards.json"
    if not path.is_file():
        return None
    shards = json.loads(path.read_text())
    span = max(s["ended_at"] for s in shards) - min(s["started_at"] for s in shards)
    return {"shards": len(shards), "span_s": span, "sum_s": sum(s["seconds"] for s in shards),
            "pids": len({s["pid"] for s in shards})}  # fmt: skip


def run_stages(spec: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    from pipeline.core.config import BuildConfig
    from pipeline.core.io import StageOutput
    from pipeline.stages.context import RunContext
    from pipeline.stages.table import STAGES

    cfg = BuildConfig.model_validate(spec["config"])
    ctx = RunContext(cfg, ROOT, f"bench-{spec['pass']}")
    outs: dict[str, Any] = {k: StageOutput(**v) for k, v in spec.get("given", {}).items()}
    times: dict[str, float] = {}
    rss: dict[str, float] = {}  # the process's peak RSS so far, after each stage (which stage set the peak)
    result: dict[str, Any] = {"times": times, "rss_after": rss}
    if cfg.executor.resolved_kind() == "ray":
        from pipeline.exec import executor_for

        t = time.perf_counter()
        executor_for(cfg.executor).connect()  # the cluster start, timed apart from the stages
        times["ray start"] = time.perf_counter() - t
    by_name = {s.name: s for s in STAGES}
    for name in names:
        stage = by_name[name]
        t = time.perf_counter()
        outs[name] = stage.run(ctx, *(outs[u] for u in stage.upstream))
        times[name], rss[name] = time.perf_counter() - t, _peak_rss_mib()
        print(f"[{spec['pass']}] {name}: {times[name]:.1f} s, peak RSS so far {rss[name]:.0f} MiB {outs[name].counts}",
              flush=True)  # fmt: skip
    result["counts"] = {name: outs[name].counts for name in names}
    result["outputs"] = {name: vars(outs[name]) for name in names}
    result["spans"] = {n: s for n in names if (s := _shard_spans(ctx.run_dir, n)) is not None}
    return result


def child_main(pass_name: str, spec_path: Path) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    spec = json.loads(spec_path.read_text())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with TreeSampler() as tree:
        try:
            result: dict[str, Any] = {"pass": pass_name, **run_stages(spec, tuple(spec["stages"]))}
        finally:
            from pipeline.exec import close_executors

            close_executors()
            if "ray" in sys.modules:
                import ray

                ray.shutdown()
    result["peak_rss_mib"] = _peak_rss_mib()
    result["tree_peak_rss_mib"], result["tree_peak_one_mib"] = tree.peak_sum, tree.peak_one
    end = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = end.ru_utime + end.ru_stime - usage.ru_utime - usage.ru_stime  # the driver, all threads
    result["tree_cpu_s"] = sum(tree.cpu.values())  # Ray's processes (workers, actors, raylet, GCS)
    result["tree_processes"] = tree.count
    out = Path(spec["result_path"])
    out.with_suffix(".tmp").write_text(json.dumps(result, indent=1, default=str))
    out.with_suffix(".tmp").replace(out)


# ---------------------------------------------------------------- parent side


class Runner(PassRunner):
    """Starts llm-katan and the passes as child processes, and stops every process it started
    (`start` and `stop_all` are scale_100k's)."""

    def __init__(self, args: argparse.Namespace):
        super().__init__(args)
        self.runs = args.cache_dir / "ray-runs"
        self.katan_pid: int | None = None

    def katan(self) -> str:
        port = free_port()
        exe = Path(sys.executable).parent / "llm-katan"
        cmd = [str(exe if exe.exists() else "llm-katan"), "--model", MODEL, "--backend", "echo",
               "--providers", "openai", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--disable-dashboard", "--latency-ms", str(self.args.latency_ms),
               "--max-concurrent", str(self.args.katan_max_concurrent),
               "--workers", str(self.args.katan_workers)]  # fmt: skip
        process = self.start(cmd, self.runs / "katan.log")
        self.katan_pid = process.pid
        wait_http(f"http://127.0.0.1:{port}/health", 60, process)
        return f"http://127.0.0.1:{port}/v1"

    def child(self, pass_name: str, spec: dict[str, Any]) -> dict[str, Any]:
        spec_path = self.runs / f"{pass_name}.spec.json"
        result_path = self.runs / f"{pass_name}.result.json"
        result_path.unlink(missing_ok=True)
        spec_path.write_text(json.dumps({**spec, "pass": pass_name, "result_path": str(result_path)}))
        # Ray's workers import the Echo plugin (tests.echo_plugin) from this checkout.
        pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": pythonpath, "RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("RAY_ADDRESS", None)  # the Ray pass starts a cluster of this machine's own
        if self.args.ray_worker_niceness is not None:  # Ray starts its workers at nice 15 by default
            env["RAY_worker_niceness"] = str(self.args.ray_worker_niceness)
        katan_cpu = tree_cpu_s(self.katan_pid) if self.katan_pid else 0.0
        log = self.runs / f"{pass_name}.log"
        print(f"pass {pass_name}: running (log: {log})", flush=True)
        t = time.perf_counter()
        process = self.start([sys.executable, str(Path(__file__).resolve()), "--child", pass_name,
                              "--spec", str(spec_path)], log, env)  # fmt: skip
        rc = process.wait()
        self.processes.remove(process)
        stop_tree(process)  # anything it left behind
        elapsed = time.perf_counter() - t
        katan_cpu = tree_cpu_s(self.katan_pid) - katan_cpu if self.katan_pid else 0.0
        if rc != 0 or not result_path.is_file():
            tail = log.read_text(errors="replace").splitlines()[-30:]
            raise RuntimeError(f"pass {pass_name} failed (exit {rc}) after {elapsed:.0f} s; last lines of {log}:\n"
                               + "\n".join(tail))  # fmt: skip
        result = json.loads(result_path.read_text())
        result["process_s"], result["katan_cpu_s"] = elapsed, katan_cpu
        print(f"pass {pass_name}: done in {elapsed:.0f} s, driver peak RSS {result['peak_rss_mib']:.0f} MiB", flush=True)
        return result


def build_config(version: str, args: argparse.Namespace, runs: Path, prompts: Path, base_url: str,
                 executor: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    (runs / "no-annotations").mkdir(parents=True, exist_ok=True)
    return {
        "version": version, "seed": 7, "output_dir": str(runs),
        "lm_cache": str(runs / version / "lm-cache.sqlite"),  # fresh per pass: every request is sent
        "annotations_dir": str(runs / "no-annotations"),
        "embeddings": {"cache_dir": str(args.cache_dir / "ray-embed")},
        "plugins": ["tests.echo_plugin"],
        "models": [{"name": MODEL, "backend": "openai", "base_url": base_url, "structured_outputs": "off",
                    "max_concurrency": args.concurrency}],
        "sources": [{"name": "bench", "path": str(prompts), "metadata_fields": ["subset"]}],
        "ingest": {"near_duplicate_threshold": None},
        "decontamination": {"eval_sets": []},
        "routing": {"mode": "tags", "field": "subset"},
        "subsets": {"echo": {"models": [MODEL], "samples_per_model": 1, "marked_samples_per_model": 0,
                             "max_tokens": 16}},
        "executor": executor,
    }  # fmt: skip


def gib(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB"


def report_compare(args: argparse.Namespace, prep: dict[str, Any], res: dict[str, dict[str, Any]]) -> None:
    local, ray_ = res["local"], res["ray"]
    print()
    print(f"== (a) route -> generate -> label, {args.prompts} prompts "
          f"({prep['counts']['decontaminate']['kept']} after ingest), llm-katan echo --latency-ms {args.latency_ms} "
          f"(--max-concurrent {args.katan_max_concurrent}, {args.katan_workers} workers), model max_concurrency "
          f"{args.concurrency}, 1 request per prompt; label: Echo's marker check (no LM requests)")  # fmt: skip
    print(f"   local: executor kind local (1 shard, this process); ray: kind ray, num_cpus {args.ray_cpus}, "
          f"shards {args.shards}, cpus_per_shard {args.cpus_per_shard}")  # fmt: skip
    print(f"   prepared once, untimed for the ratio: ingest {prep['times']['ingest']:.1f} s, decontaminate "
          f"{prep['times']['decontaminate']:.1f} s, driver peak RSS {prep['peak_rss_mib']:.0f} MiB")  # fmt: skip
    print(f"{'stage':<12}{'in':>8}{'kept':>8}{'failed':>8}{'lm sent':>9}  {'local s':>9}{'ray s':>9}"
          f"{'local/ray':>10}  {'ray shard span s':>17}{'ray driver-only s':>18}")  # fmt: skip
    rows = (["ray start"] if "ray start" in ray_["times"] else []) + list(COMPARE)
    for name in rows:
        c = ray_["counts"].get(name) or {"in": "", "kept": "", "failed": "", "lm_sent": ""}
        lt, rt = local["times"].get(name), ray_["times"][name]
        span = ray_["spans"].get(name)
        ratio = f"{lt / rt:>10.3f}" if lt else f"{'-':>10}"
        lts = f"{lt:>9.1f}" if lt is not None else f"{'-':>9}"
        sp = f"{span['span_s']:>17.1f}{rt - span['span_s']:>18.1f}" if span else f"{'':>35}"
        print(f"{name:<12}{c.get('in', 0):>8}{c.get('kept', 0):>8}{c.get('failed', 0):>8}"
              f"{c.get('lm_sent', 0):>9}  {lts}{rt:>9.1f}{ratio}  {sp}")  # fmt: skip
    lw = sum(local["times"][n] for n in COMPARE)
    rw_stages = sum(ray_["times"][n] for n in COMPARE)
    rw = rw_stages + ray_["times"].get("ray start", 0.0)
    print(f"{'total':<12}{'':>41}{lw:>9.1f}{rw:>9.1f}{lw / rw:>10.3f}   (ray incl. its start; stages only: "
          f"{lw / rw_stages:.3f})")  # fmt: skip
    sent_l, sent_r = local["counts"]["generate"].get("lm_sent", 0), ray_["counts"]["generate"].get("lm_sent", 0)
    rl, rr = sent_l / local["times"]["generate"], sent_r / ray_["times"]["generate"]
    print(f"generate requests/s: local {rl:.0f}, ray {rr:.0f} (ray/local {rr / rl:.3f}); ceiling at "
          f"{args.concurrency} in flight x {args.latency_ms} ms = {args.concurrency * 1000 / args.latency_ms:.0f}/s")  # fmt: skip
    print(f"end to end (route+generate+label) requests/s: local {sent_l / lw:.0f}, ray {sent_r / rw:.0f}")
    print(f"Ray / local throughput ratio (= local wall / ray wall, incl. ray start) = {lw / rw:.3f} (expected >= 0.9)")
    print("CPU seconds during the pass (wall x 2 CPUs is what the machine had, shared with other work):")
    for label, r in (("local", local), ("ray", ray_)):
        if "cpu_s" not in r:
            continue
        wall = sum(r["times"].values())
        total = r["cpu_s"] + r["tree_cpu_s"] + r["katan_cpu_s"]
        print(f"  {label}: driver {r['cpu_s']:.0f}, Ray processes {r['tree_cpu_s']:.0f}, llm-katan {r['katan_cpu_s']:.0f}"
              f" = {total:.0f} CPU s over {wall:.0f} s wall ({total / wall:.2f} CPUs busy); "
              f"{1000 * (r['cpu_s'] + r['tree_cpu_s']) / max(1, r['counts']['generate'].get('lm_sent', 0)):.1f} "
              f"CPU ms per request outside llm-katan")  # fmt: skip
    niceness = args.ray_worker_niceness if args.ray_worker_niceness is not None else "15 (Ray's default)"
    print(f"  Ray worker niceness: {niceness}")
    for label, r in (("local", local), ("ray", ray_)):
        extra = (f"; Ray's own processes (GCS, raylet, workers): peak total {gib(r['tree_peak_rss_mib'])}, largest "
                 f"{r['tree_peak_one_mib']:.0f} MiB" if label == "ray" else "")  # fmt: skip
        print(f"driver peak RSS, {label}: {r['peak_rss_mib']:.0f} MiB = {gib(r['peak_rss_mib'])} (target <= 2 GiB){extra}")


def report_ingest(args: argparse.Namespace, res: dict[str, Any]) -> None:
    print()
    print(f"== (b) {args.ingest_prompts} prompts through ingest (near-duplicate embedding off) -> decontaminate "
          f"(no eval sets) -> route (tags), local, one process")  # fmt: skip
    print(f"{'stage':<14}{'in':>9}{'kept':>9}{'dropped':>9}{'failed':>8}{'wall s':>9}{'prompts/s':>11}"
          f"{'peak RSS after, MiB':>21}")  # fmt: skip
    for name in INGEST:
        c = res["counts"][name]
        t = res["times"][name]
        print(f"{name:<14}{c.get('in', 0):>9}{c.get('kept', 0):>9}{c.get('dropped', 0):>9}{c.get('failed', 0):>8}"
              f"{t:>9.1f}{c.get('in', 0) / t:>11.0f}{res.get('rss_after', {}).get(name, 0):>21.0f}")  # fmt: skip
    total = sum(res["times"][n] for n in INGEST)
    print(f"{'total':<50}{total:>9.1f}{args.ingest_prompts / total:>11.0f}")
    print(f"driver peak RSS: {res['peak_rss_mib']:.0f} MiB = {gib(res['peak_rss_mib'])} (target <= 2 GiB)")


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=100_000, help="prompts for the local vs Ray comparison")
    parser.add_argument("--ingest-prompts", type=int, default=1_000_000, help="prompts for the ingest + route pass")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "outputs" / ".bench-cache",
                        help="prompt files, run dirs and logs")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=64, help="max_concurrency of the katan model (both passes)")
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--katan-workers", type=int, default=2)
    parser.add_argument("--katan-max-concurrent", type=int, default=512)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--ray-cpus", type=int, default=2)
    parser.add_argument("--cpus-per-shard", type=float, default=1.0)
    parser.add_argument("--skip-1m", action="store_true", help="skip (b), the ingest + route pass")
    parser.add_argument("--skip-ray-compare", action="store_true", help="skip (a), the local vs Ray comparison")
    parser.add_argument("--ray-first", action="store_true", help="run the Ray pass before the local one")
    parser.add_argument("--ray-worker-niceness", type=int, default=None,
                        help="RAY_worker_niceness for the Ray pass (Ray's default: 15, i.e. workers yield to "
                             "everything else on a shared machine)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-runs", action="store_true", help="keep the run dirs (stage tables)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.spec)
        return

    args.cache_dir = args.cache_dir.resolve()
    runner = Runner(args)
    shutil.rmtree(runner.runs, ignore_errors=True)
    runner.runs.mkdir(parents=True)

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    results: dict[str, Any] = {}
    try:
        if not args.skip_ray_compare:
            prompts = args.cache_dir / f"ray-prompts-{args.prompts}-seed{args.seed}.jsonl"
            t = time.perf_counter()
            write_prompts(prompts, args.prompts, args.seed)
            print(f"prompts: {prompts} ({time.perf_counter() - t:.0f} s)", flush=True)
            base_url = runner.katan()
            print(f"llm-katan (echo, {args.katan_workers} workers, --latency-ms {args.latency_ms}) at {base_url}")
            local_exec = {"kind": "local"}
            ray_exec = {"kind": "ray", "num_cpus": args.ray_cpus, "shards": args.shards,
                        "cpus_per_shard": args.cpus_per_shard}  # fmt: skip
            cfg = build_config("prep", args, runner.runs, prompts, base_url, local_exec)
            prep = runner.child("prep", {"config": cfg, "stages": ["ingest", "decontaminate"]})
            given = {"decontaminate": prep["outputs"]["decontaminate"]}
            order = [("ray", ray_exec), ("local", local_exec)]
            compare = {}
            for name, executor in order if args.ray_first else order[::-1]:
                cfg = build_config(name, args, runner.runs, prompts, base_url, executor)
                compare[name] = runner.child(name, {"config": cfg, "stages": list(COMPARE), "given": given})
            results["prep"] = prep
            results.update(compare)
            runner.stop_all()  # katan
        if not args.skip_1m:
            prompts = args.cache_dir / f"ray-prompts-{args.ingest_prompts}-seed{args.seed}.jsonl"
            t = time.perf_counter()
            write_prompts(prompts, args.ingest_prompts, args.seed)
            print(f"prompts: {prompts} ({time.perf_counter() - t:.0f} s)", flush=True)
            cfg = build_config("ingest1m", args, runner.runs, prompts, "http://127.0.0.1:9/v1", {"kind": "local"})
            results["ingest"] = runner.child("ingest", {"config": cfg, "stages": list(INGEST)})
    finally:
        runner.stop_all()
    if "local" in results:
        report_compare(args, results["prep"], results)
    if "ingest" in results:
        report_ingest(args, results["ingest"])
    parts = ([] if args.skip_ray_compare else [f"compare{args.prompts}"]) + ([] if args.skip_1m else [f"ingest{args.ingest_prompts}"])
    name = f"ray-{'-'.join(parts) or 'nothing'}-results.json"  # a run of one part keeps the other's results
    (args.cache_dir / name).write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **results},
                                                  indent=1, default=str))  # fmt: skip
    if not args.keep_runs:
        for version in ("prep", "local", "ray", "ingest1m"):
            shutil.rmtree(runner.runs / version, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as exc:
        sys.exit(f"interrupted ({exc or 'Ctrl-C'}); every process this run started is stopped")
