"""Bundle compact, text-only copies of downstream eval sets and human prompt pools into data/.

Run once by a maintainer, from the repository root:

    python scripts/bundle_eval_data.py [SHARED_DATA_DIR]      # default: ../shared/data

The build never reads the shared folder; this script copies what decontamination needs:

- data/evalsets/<name>/items.jsonl[.gz]   one {"id", "text"} per line: the prompt a model sees
- data/pools/<name>/prompts.jsonl[.gz]    one {"id", "prompt"} per line: human-written prompts
- the upstream LICENSE file(s) beside each (when the shared folder has one) and a LICENSE_NOTE.txt
  in every folder giving the source repository, path, commit and license from MANIFEST.tsv
- data/evalsets/registry.tsv and data/pools/registry.tsv

Deterministic: fixed file order, fixed JSON formatting, gzip with mtime 0 and no file name. Every
source file is checked against the sha256 in MANIFEST.tsv first. Standard library only.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

SHARED = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
OUT = Path("data")
GZIP_OVER = 400 * 1024  # plain JSONL larger than this is written gzip-compressed

csv.field_size_limit(1 << 30)

Rows = list[tuple[str, str]]  # (id, text)


@dataclass
class Result:
    rows: Rows
    skipped_empty: int = 0
    dropped_duplicates: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class Spec:
    name: str  # bundled folder name
    folder: str  # folder under the shared dir (evalsets/x or prompt_pools/x)
    files: list[str]  # data files used, relative to folder
    extract: Callable[[Path], Result]
    source_path_label: str = ""  # registry override for long file lists


# ----------------------------------------------------------------------------- readers


def read_jsonl(path: Path) -> list:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def collect(pairs, dedupe_text: bool = False) -> Result:
    """Keep (id, text) pairs with non-blank text; optionally drop exact repeats of a text."""
    res = Result(rows=[])
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    for rid, text in pairs:
        rid = str(rid)
        if rid in seen_ids:
            raise SystemExit(f"duplicate id {rid!r}")
        seen_ids.add(rid)
        if text is None or not str(text).strip():
            res.skipped_empty += 1
            continue
        text = str(text)
        if dedupe_text:
            if text in seen_texts:
                res.dropped_duplicates += 1
                continue
            seen_texts.add(text)
        res.rows.append((rid, text))
    return res


def with_input(instruction: str, inp: str) -> str:
    """Instruction followed by its instance input, separated by a blank line (AlpacaEval's layout)."""
    return instruction + ("\n\n" + inp if inp and inp.strip() else "")


# ----------------------------------------------------------------------------- eval sets


def ex_gsm8k(d: Path) -> Result:
    return collect((i, r["question"]) for i, r in enumerate(read_jsonl(d / "test.jsonl")))


def ex_math500(d: Path) -> Result:
    return collect((r["unique_id"], r["problem"]) for r in read_jsonl(d / "test.jsonl"))


def ex_math(d: Path) -> Result:
    return collect((r["idx"], r["problem"]) for r in read_jsonl(d / "test.jsonl"))


def ex_aime24(d: Path) -> Result:
    return collect((r["id"], r["problem"]) for r in read_jsonl(d / "test.jsonl"))


def ex_aime25(d: Path) -> Result:
    return collect((i, r["problem"]) for i, r in enumerate(read_jsonl(d / "test.jsonl")))


def ex_amc23(d: Path) -> Result:
    return collect((r["id"], r["problem"]) for r in read_jsonl(d / "test.jsonl"))


def ex_keyed_prompt(filename: str) -> Callable[[Path], Result]:
    def ex(d: Path) -> Result:
        return collect((r["key"], r["prompt"]) for r in read_jsonl(d / filename))

    return ex


def ex_alpaca_eval(d: Path) -> Result:
    rows = json.loads((d / "model_outputs.json").read_text(encoding="utf-8"))
    return collect((i, r["instruction"]) for i, r in enumerate(rows))


def ex_humaneval(d: Path) -> Result:
    return collect((r["task_id"], r["prompt"]) for r in read_jsonl(d / "HumanEval.jsonl.gz"))


BBH_TASKS: list[str] = []  # filled from the manifest


def ex_bbh(d: Path) -> Result:
    pairs = []
    for task in BBH_TASKS:
        examples = json.loads((d / f"{task}.json").read_text(encoding="utf-8"))["examples"]
        pairs += [(f"{task}/{i}", ex["input"]) for i, ex in enumerate(examples)]
    return collect(pairs)


MMLU_FILES: list[str] = []  # filled from the manifest


def ex_mmlu(d: Path) -> Result:
    pairs = []
    for fname in MMLU_FILES:
        subject = fname.removesuffix("_test.csv")
        pairs += [(f"{subject}/{i}", r["question"]) for i, r in enumerate(read_csv(d / fname))]
    return collect(pairs)


def ex_truthfulqa(d: Path) -> Result:
    return collect((i, r["Question"]) for i, r in enumerate(read_csv(d / "TruthfulQA.csv")))


def ex_popqa(d: Path) -> Result:
    data = json.loads((d / "popqa.json").read_text(encoding="utf-8"))
    pairs = [(f"{split}/{r['id']}", r["input"]) for split in ("dev", "test") for r in data[split]]
    return collect(pairs)


AGIEVAL_TASKS = ["aqua-rat", "logiqa-en", "lsat-ar", "lsat-lr", "lsat-rc", "math", "sat-en", "sat-math"]


def ex_agieval(d: Path) -> Result:
    # The question alone is used where the row has no passage. Where it has one (LogiQA, LSAT,
    # SAT-en, a few SAT-math tables) the question only refers to it ("Which one of the following
    # is an assumption ...?"), so the passage comes first, then a blank line, then the question.
    # Options are left out, as for MMLU. sat-en-without-passage is not used: its 206 questions are
    # exactly sat-en's questions with the passage removed.
    pairs = []
    for task in AGIEVAL_TASKS:
        for i, r in enumerate(read_jsonl(d / f"{task}.jsonl")):
            q = r.get("question") or ""
            p = r.get("passage") or ""
            text = f"{p}\n\n{q}" if p.strip() and q.strip() else q
            pairs.append((f"{task}/{i}", text))
    return collect(pairs)


def ex_xstest(d: Path) -> Result:
    return collect((r["id"], r["prompt"]) for r in read_csv(d / "xstest_prompts.csv"))


def ex_harmbench(d: Path) -> Result:
    rows = read_csv(d / "harmbench_behaviors_text_all.csv")
    split = read_csv(d / "harmbench_behaviors_text_test.csv") + read_csv(d / "harmbench_behaviors_text_val.csv")
    if {r["BehaviorID"] for r in rows} != {r["BehaviorID"] for r in split}:
        raise SystemExit("harmbench: _all is not the union of test and val")
    res = collect((r["BehaviorID"], r["Behavior"]) for r in rows)
    n_ctx = sum(1 for r in rows if r["ContextString"].strip())
    res.notes.append(f"{n_ctx} contextual behaviors: only the Behavior line is kept, not the ContextString")
    return res


def ex_coconot(d: Path) -> Result:
    pairs = []
    for stem in ("coconot_eval", "coconot_contrast_eval"):
        pairs += [(f"{stem}/{r['id']}", r["prompt"]) for r in read_jsonl(d / f"{stem}.jsonl")]
    return collect(pairs)


def ex_arena_hard(d: Path) -> Result:
    rows = read_jsonl(d / "question.jsonl")
    return collect((r["question_id"], r["turns"][0]["content"]) for r in rows)


def ex_mt_bench(d: Path) -> Result:
    pairs = []
    for r in read_jsonl(d / "question.jsonl"):
        qid = r["question_id"]
        pairs.append((f"{qid}", r["turns"][0]))
        if len(r["turns"]) > 1:
            pairs.append((f"{qid}/2", r["turns"][1]))
    return collect(pairs)


def ex_user_oriented(d: Path) -> Result:
    rows = read_jsonl(d / "user_oriented_instructions.jsonl")
    return collect((r["id"], with_input(r["instruction"], r["instances"][0]["input"])) for r in rows)


def ex_dan(d: Path) -> Result:
    pairs = []
    for r in read_csv(d / "forbidden_question_set.csv"):
        pairs.append((f"question/{r['content_policy_id']}/{r['q_id']}", r["question"]))
    for stem in ("2023_12_25", "2023_05_07"):
        for i, r in enumerate(read_csv(d / f"jailbreak_prompts_{stem}.csv")):
            pairs.append((f"jailbreak/{stem}/{i}", r["prompt"]))
    # Exact repeats are dropped: within a file, and 2023_05_07 prompts already in 2023_12_25.
    return collect(pairs, dedupe_text=True)


# ----------------------------------------------------------------------------- prompt pools


def ex_oasst_prompts(d: Path) -> Result:
    pairs = []
    for prefix, fname in (
        ("en_100", "en_100_text.jsonl"),
        ("lottery_250", "prompt_lottery_en_250_text.jsonl"),
        ("sampling_1k", "oasst_1k_prompts_from_sampling_reports.jsonl"),
    ):
        for i, r in enumerate(read_jsonl(d / fname)):
            pairs.append((f"{prefix}/{i}", r if isinstance(r, str) else r["prompt"]))
    return collect(pairs, dedupe_text=True)


def ex_oasst1_val(d: Path) -> Result:
    rows = read_jsonl(d / "en-validation.jsonl")
    roots = (r for r in rows if r["parent_id"] is None and r["lang"] == "en" and r["role"] == "prompter")
    return collect(((r["message_id"], r["text"]) for r in roots), dedupe_text=True)


def ex_nq(d: Path) -> Result:
    return collect(((i, r["question"]) for i, r in enumerate(read_jsonl(d / "NQ-open.dev.jsonl"))), dedupe_text=True)


def ex_seed(d: Path) -> Result:
    rows = read_jsonl(d / "seed_tasks.jsonl")
    pairs = ((r["id"], with_input(r["instruction"], r["instances"][0]["input"])) for r in rows)
    return collect(pairs, dedupe_text=True)


HUMAN_FIRST = re.compile(r"\s*Human:(.*?)\n\nAssistant:", re.S)


def ex_hh(d: Path) -> Result:
    pairs = []
    for i, r in enumerate(read_jsonl(d / "test.jsonl.gz")):
        m = HUMAN_FIRST.match(r["chosen"])
        pairs.append((i, m.group(1).strip() if m else ""))
    return collect(pairs, dedupe_text=True)


# ----------------------------------------------------------------------------- specs

E = "evalsets/"
P = "prompt_pools/"

EVAL_SPECS = [
    Spec("gsm8k", E + "gsm8k", ["test.jsonl"], ex_gsm8k),
    Spec("math500", E + "math500", ["test.jsonl"], ex_math500),
    Spec("math", E + "math_test5000", ["test.jsonl"], ex_math),
    Spec("aime24", E + "aime24", ["test.jsonl"], ex_aime24),
    Spec("aime25", E + "aime25", ["test.jsonl"], ex_aime25),
    Spec("amc23", E + "amc23", ["test.jsonl"], ex_amc23),
    Spec("ifeval", E + "ifeval", ["input_data.jsonl"], ex_keyed_prompt("input_data.jsonl")),
    Spec("ifbench", E + "ifbench", ["IFBench_test.jsonl"], ex_keyed_prompt("IFBench_test.jsonl")),
    Spec("alpaca_eval", E + "alpaca_eval", ["model_outputs.json"], ex_alpaca_eval),
    Spec("humaneval", E + "humaneval", ["HumanEval.jsonl.gz"], ex_humaneval),
    Spec("bbh", E + "bbh", [], ex_bbh),
    Spec("mmlu", E + "mmlu_test", [], ex_mmlu),
    Spec("truthfulqa", E + "truthfulqa", ["TruthfulQA.csv"], ex_truthfulqa),
    Spec("popqa", E + "popqa_subset2k", ["popqa.json"], ex_popqa),
    Spec(
        "agieval",
        E + "agieval_en",
        [f"{t}.jsonl" for t in AGIEVAL_TASKS],
        ex_agieval,
        "data/v1/{" + ",".join(AGIEVAL_TASKS) + "}.jsonl",
    ),
    Spec("xstest", E + "xstest", ["xstest_prompts.csv"], ex_xstest),
    Spec(
        "harmbench",
        E + "harmbench",
        ["harmbench_behaviors_text_all.csv", "harmbench_behaviors_text_test.csv", "harmbench_behaviors_text_val.csv"],
        ex_harmbench,
        "data/behavior_datasets/harmbench_behaviors_text_all.csv",
    ),
    Spec("coconot", E + "coconot", ["coconot_eval.jsonl", "coconot_contrast_eval.jsonl"], ex_coconot),
    Spec("arena_hard", E + "arena_hard_v0.1", ["question.jsonl"], ex_arena_hard),
    Spec("mt_bench", E + "mt_bench", ["question.jsonl"], ex_mt_bench),
    Spec(
        "self_instruct_user_oriented",
        E + "self_instruct_user_oriented",
        ["user_oriented_instructions.jsonl"],
        ex_user_oriented,
    ),
    Spec(
        "dan_jailbreak",
        E + "dan_jailbreak_llms",
        ["forbidden_question_set.csv", "jailbreak_prompts_2023_12_25.csv", "jailbreak_prompts_2023_05_07.csv"],
        ex_dan,
    ),
]

POOL_SPECS = [
    Spec(
        "oasst_prompts",
        P + "oasst_prompts",
        ["en_100_text.jsonl", "prompt_lottery_en_250_text.jsonl", "oasst_1k_prompts_from_sampling_reports.jsonl"],
        ex_oasst_prompts,
    ),
    Spec("oasst1_en_validation", P + "oasst1_en_validation", ["en-validation.jsonl"], ex_oasst1_val),
    Spec("nq_open_dev", P + "nq_open_dev", ["NQ-open.dev.jsonl"], ex_nq),
    Spec("self_instruct_seed", P + "self_instruct_seed", ["seed_tasks.jsonl"], ex_seed),
    Spec("hh_rlhf_harmless_base_test", P + "hh_rlhf_harmless_base_test", ["test.jsonl.gz"], ex_hh),
]

# ----------------------------------------------------------------------------- output


def load_manifest() -> dict[str, dict]:
    with open(SHARED / "MANIFEST.tsv", encoding="utf-8", newline="") as fh:
        return {r["local_path"]: r for r in csv.DictReader(fh, delimiter="\t")}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_lines(base: Path, lines: list[str]) -> Path:
    """Write base (.jsonl), or base + '.gz' when the plain text is over GZIP_OVER; remove the other."""
    data = "".join(lines).encode("utf-8")
    base.parent.mkdir(parents=True, exist_ok=True)
    gz = base.with_name(base.name + ".gz")
    if len(data) > GZIP_OVER:
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as fh:
            fh.write(data)
        gz.write_bytes(buf.getvalue())
        base.unlink(missing_ok=True)
        return gz
    base.write_bytes(data)
    gz.unlink(missing_ok=True)
    return base


def uniq(values) -> list[str]:
    out: list[str] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def source_fields(spec: Spec, manifest: dict[str, dict]) -> tuple[str, str, str, str]:
    entries = [manifest[f"{spec.folder}/{f}"] for f in spec.files]
    repos = "; ".join(uniq(e["source_repo"] for e in entries))
    if spec.source_path_label:
        paths = spec.source_path_label
    elif len(entries) > 3:
        first = entries[0]["source_path"]
        paths = f"{first.rsplit('/', 1)[0]}/*{Path(first).suffix} ({len(entries)} files)"
    else:
        paths = "; ".join(e["source_path"] for e in entries)
    commits = "; ".join(uniq(e["commit"] for e in entries))
    licenses = "; ".join(uniq(e["license"] for e in entries))
    return repos, paths, commits, licenses


def write_license(spec: Spec, manifest: dict[str, dict], dest: Path, n_rows: int, out_file: Path) -> list[str]:
    """Copy upstream LICENSE files from the shared folder; always write LICENSE_NOTE.txt."""
    copied = []
    for local, entry in sorted(manifest.items()):
        folder, _, fname = local.rpartition("/")
        if folder == spec.folder and fname.upper().startswith("LICENSE"):
            shutil.copyfile(SHARED / local, dest / fname)
            copied.append((fname, entry))
    repos, paths, commits, licenses = source_fields(spec, manifest)
    lines = [
        f"{spec.name}: text-only extract made by scripts/bundle_eval_data.py",
        "",
        f"File: {out_file.name} ({n_rows} rows)",
        f"Source repository: https://github.com/{repos}" if ";" not in repos else f"Source repositories: {repos}",
        f"Source path(s): {paths}",
        f"Commit(s): {commits}",
        f"License (as recorded for the source): {licenses}",
        "",
    ]
    if copied:
        for fname, entry in copied:
            lines.append(
                f"Upstream license file beside this note: {fname} "
                f"({entry['source_repo']}, {entry['source_path']} @ {entry['commit'][:12]})."
            )
    else:
        lines.append("The source folder has no license file; the license above is the one recorded in")
        lines.append("the source's documentation (see MANIFEST.tsv of the offline data copy).")
    lines.append("The rows keep the license of the source; the extraction itself adds no new terms.")
    (dest / "LICENSE_NOTE.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [c[0] for c in copied]


def bundle(specs: list[Spec], kind: str, manifest: dict[str, dict]) -> None:
    root = OUT / kind
    registry = ["name\tpath\trows\tsource_repo\tsource_path\tcommit\tlicense"]
    text_key = "text" if kind == "evalsets" else "prompt"
    stem = "items.jsonl" if kind == "evalsets" else "prompts.jsonl"
    for spec in specs:
        for f in spec.files:
            entry = manifest[f"{spec.folder}/{f}"]
            if sha256(SHARED / spec.folder / f) != entry["sha256"]:
                raise SystemExit(f"sha256 mismatch for {spec.folder}/{f}")
        res = spec.extract(SHARED / spec.folder)
        dest = root / spec.name
        dest.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"id": rid, text_key: text}, ensure_ascii=False) + "\n" for rid, text in res.rows]
        out_file = write_lines(dest / stem, lines)
        licenses = write_license(spec, manifest, dest, len(res.rows), out_file)
        repos, paths, commits, lic = source_fields(spec, manifest)
        registry.append("\t".join([spec.name, out_file.as_posix(), str(len(res.rows)), repos, paths, commits, lic]))
        extra = "; ".join(
            [f"{res.skipped_empty} empty skipped"] * bool(res.skipped_empty)
            + [f"{res.dropped_duplicates} exact duplicates dropped"] * bool(res.dropped_duplicates)
            + res.notes
        )
        print(f"{kind}/{spec.name}: {len(res.rows)} rows -> {out_file} [{', '.join(licenses) or 'no LICENSE'}] {extra}")
    (root / "registry.tsv").write_text("\n".join(registry) + "\n", encoding="utf-8")


def main() -> None:
    if not (SHARED / "MANIFEST.tsv").is_file():
        raise SystemExit(f"no MANIFEST.tsv under {SHARED}")
    manifest = load_manifest()
    bbh = sorted(p for p in manifest if p.startswith("evalsets/bbh/") and p.endswith(".json"))
    BBH_TASKS.extend(Path(p).stem for p in bbh)
    mmlu = sorted(p for p in manifest if p.startswith("evalsets/mmlu_test/") and p.endswith("_test.csv"))
    MMLU_FILES.extend(Path(p).name for p in mmlu)
    for spec in EVAL_SPECS:
        if spec.name == "bbh":
            spec.files = [f"{t}.json" for t in BBH_TASKS]
        if spec.name == "mmlu":
            spec.files = list(MMLU_FILES)
    bundle(EVAL_SPECS, "evalsets", manifest)
    bundle(POOL_SPECS, "pools", manifest)


if __name__ == "__main__":
    main()
