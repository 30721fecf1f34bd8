"""Write tests/data/ifeval_boundary.jsonl: the official IFEval verdicts on our boundary cases.

Runs the official evaluation functions (`test_instruction_following_strict` / `_loose` of lm-eval's
`lm_eval/tasks/ifeval/utils.py`, google-research's code) from a scratch copy OUTSIDE this repository,
never through our facade, so the expected verdicts do not come from the code they test:

    mkdir -p /tmp/ifeval-ref/src && cd /tmp/ifeval-ref
    pip download --no-deps lm-eval==0.4.13 llama-index-core==0.14.25
    unzip lm_eval-0.4.13-*.whl 'lm_eval/tasks/ifeval/*' -d src
    unzip llama_index_core-0.14.25-*.whl 'llama_index/core/_static/nltk_cache/*' -d src
    touch src/lm_eval/__init__.py src/lm_eval/tasks/__init__.py   # skip lm-eval's heavy package imports
    python -m venv venv && venv/bin/pip install nltk langdetect immutabledict packaging
    venv/bin/python scripts/make_ifeval_boundary.py --reference /tmp/ifeval-ref/src --runs 5

langdetect is random unless seeded, and the official code does not seed it: each case is run
`--runs` times unseeded plus once with seed 0 (what our facade uses); a case whose verdict differs
between runs is left out and counted, since no single official verdict exists for it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "tests" / "data" / "ifeval_boundary.jsonl"


def _verdicts(reference: Path, seed: int | None) -> list[tuple[bool, bool]]:
    """Official verdicts of every case, computed in this process."""
    import nltk

    sys.path.insert(0, str(reference))
    nltk.data.path.insert(0, str(reference / "llama_index/core/_static/nltk_cache"))
    if seed is not None:
        import langdetect

        langdetect.DetectorFactory.seed = seed
    from lm_eval.tasks.ifeval import utils  # the official evaluation, from the scratch copy

    sys.path.insert(0, str(HERE))
    from ifeval_boundary_cases import cases

    out = []
    for instruction_id, kwargs, response, _ in cases():
        example = utils.InputExample(key=0, instruction_id_list=[instruction_id], prompt="", kwargs=[kwargs])
        strict = utils.test_instruction_following_strict(example, response).follow_instruction_list[0]
        loose = utils.test_instruction_following_loose(example, response).follow_instruction_list[0]
        out.append((bool(strict), bool(loose)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="folder holding lm_eval/tasks/ifeval")
    parser.add_argument("--runs", type=int, default=5, help="unseeded runs (langdetect varies between runs)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # "seed" or "none": one run, JSON on stdout
    args = parser.parse_args()
    if args.child:
        seed = None if args.child == "none" else int(args.child)
        print(json.dumps(_verdicts(args.reference, seed)))
        return
    runs = []
    for child in ["0"] + ["none"] * args.runs:  # a fresh process per run: langdetect's state is global
        cmd = [sys.executable, __file__, "--reference", str(args.reference), "--child", child]
        runs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
    sys.path.insert(0, str(HERE))
    from ifeval_boundary_cases import cases

    kept = unstable = 0
    with OUT.open("w", encoding="utf-8") as handle:
        for index, (case, *verdicts) in enumerate(zip(cases(), *runs)):
            if len({tuple(v) for v in verdicts}) > 1:
                unstable += 1
                continue
            instruction_id, kwargs, response, note = case
            strict, loose = verdicts[0]
            row = {"case": index, "instruction_id": instruction_id, "kwargs": kwargs, "response": response,
                   "note": note, "official_strict": strict, "official_loose": loose}  # fmt: skip
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            kept += 1
    print(f"{kept} cases written to {OUT}; {unstable} left out (verdict varies between langdetect runs)")


if __name__ == "__main__":
    main()
