"""Label IFBench test cases with the OFFICIAL IFBench checkers (run outside the project).

Why: our own IFBench checkers (pipeline/label/ifbench/) must give the official verdicts; the only
way to know the official verdict on a new response is to run the official code. This script is
ours; the official code is NOT part of the project: point --ifbench-src at an unmodified checkout
of allenai/IFBench (commit db69a6f) and run it in a scratch venv that has the official
dependencies (see tests/data/ifbench/README.md for the exact recipe).

Input JSONL lines need `instruction_id`, `kwargs` (None values already dropped) and `response`;
every other field is kept. Added fields:
  official_description  what build_description(**kwargs) returns
  official_strict       evaluation_lib.test_instruction_following_strict's verdict
  official_loose        evaluation_lib.test_instruction_following_loose's verdict (8 response variants)
  official_error        "" or "strict|loose: ExceptionType: message" where the official evaluation
                        raised (that mode's verdict is then null)
"""

from __future__ import annotations

import argparse
import json
import random
import sys


def label(registry, evaluation_lib, row: dict) -> dict:
    """Official description and verdicts of one case: the text from the instruction's own
    build_description, the verdicts from evaluation_lib's strict and loose functions."""
    kwargs = {k: v for k, v in row["kwargs"].items() if v is not None}
    out = dict(row)
    out.update(official_description=None, official_strict=None, official_loose=None, official_error="")
    random.seed(0)  # only ids whose kwargs are incomplete draw; the test cases give them all
    out["official_description"] = registry.INSTRUCTION_DICT[row["instruction_id"]](
        row["instruction_id"]).build_description(**kwargs)
    prompt = f"case {row.get('case', row.get('key'))}"
    responses = {prompt: row["response"]}
    errors = []
    for mode in ("strict", "loose"):
        inp = evaluation_lib.InputExample(key=0, instruction_id_list=[row["instruction_id"]],
                                          prompt=prompt, kwargs=[dict(kwargs)])
        run = getattr(evaluation_lib, f"test_instruction_following_{mode}")
        try:
            out[f"official_{mode}"] = run(inp, responses).follow_instruction_list[0]
        except Exception as exc:  # noqa: BLE001 - the official code's own failure is the datum
            errors.append(f"{mode}: {type(exc).__name__}: {exc}")
    out["official_error"] = "; ".join(errors)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ifbench-src", required=True, help="checkout of allenai/IFBench at db69a6f")
    ap.add_argument("inp")
    ap.add_argument("out")
    args = ap.parse_args()
    sys.path.insert(0, args.ifbench_src)
    import evaluation_lib  # the official code
    from ifbench import instructions_registry as registry

    with open(args.inp, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    with open(args.out, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(label(registry, evaluation_lib, row), ensure_ascii=False) + "\n" for row in rows)


if __name__ == "__main__":
    main()
