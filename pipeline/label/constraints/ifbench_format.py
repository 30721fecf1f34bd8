"""IFBench format:* instructions: casing, emoji, whitespace, layout, options, templates, nesting."""

from __future__ import annotations

import re

from pipeline.label.constraints import banks, text
from pipeline.label.constraints.base import Constraint, Kwargs, Param, Verdict, simple_sampler

# Short function words that title case leaves in lowercase (unless they open a line).
MINOR_WORDS = frozenset(
    (
        "a an the and but or nor for so yet as at by in of off on per to up via with from into onto over than"
    ).split()
)
TEMPLATE_LABELS = ("Short answer:", "Details:", "Bottom line:")
MIN_NESTING = 5
_OPEN, _CLOSE = "([{", ")]}"


def _title_case(response: str, _: Kwargs) -> Verdict:
    checked = 0
    for line in response.splitlines():
        for i, word in enumerate(text.words(text.strip_line_markup(line))):
            if not word[0].isalpha():
                continue
            checked += 1
            if not word[0].isupper() and not (i > 0 and word.lower() in MINOR_WORDS):
                return False, f"{word!r} is not capitalised"
    if not checked:
        return None, "no words with letters"
    return True, f"{checked} words in title case"


def _emoji(response: str, _: Kwargs) -> Verdict:
    found = text.sentences(response)
    for i, sentence in enumerate(found, start=1):
        if not text.ends_with_emoji(sentence.rstrip(".!?…\"'”’)]*_ ")):
            return False, f"sentence {i} of {len(found)} does not end with an emoji: {sentence[-40:]!r}"
    return True, f"all {len(found)} sentences end with an emoji"


def _no_whitespace(response: str, _: Kwargs) -> Verdict:
    n = sum(ch.isspace() for ch in response.strip())
    return n == 0, f"{n} whitespace character(s)"


def _newline(response: str, _: Kwargs) -> Verdict:
    lines = [text.words(line) for line in response.splitlines()]
    lines = [ws for ws in lines if ws]
    if sum(len(ws) for ws in lines) < 2:
        return None, "fewer than 2 words"
    crowded = [" ".join(ws) for ws in lines if len(ws) > 1]
    return (
        not crowded,
        f"{len(crowded)} line(s) with more than one word {crowded[:3]}" if crowded else "one word per line",
    )


def _bare(value: str) -> str:
    """An answer without surrounding whitespace, markdown, quotes or end punctuation."""
    return value.strip().strip("*_`\"'“”‘’ .,!?:;()[]").casefold()


def _options(response: str, kw: Kwargs) -> Verdict:
    answer = _bare(response)
    ok = answer in {_bare(o) for o in kw["options"]}
    return ok, f"answered {response.strip()[:60]!r} (allowed: {kw['options']})"


def _template(response: str, _: Kwargs) -> Verdict:
    clean = re.sub(r"[*_#]", "", response).strip()
    positions = [clean.lower().find(label.lower()) for label in TEMPLATE_LABELS]
    if any(p < 0 for p in positions):
        missing = [label for label, p in zip(TEMPLATE_LABELS, positions) if p < 0]
        return False, f"missing labels {missing}"
    if positions != sorted(positions) or positions[0] != 0:
        return False, f"labels out of order or text before {TEMPLATE_LABELS[0]!r}"
    ends = positions[1:] + [len(clean)]
    empty = [
        label
        for label, p, e in zip(TEMPLATE_LABELS, positions, ends)
        if not clean[p + len(label) : e].strip()
    ]
    return not empty, f"empty parts {empty}" if empty else "template filled in order"


def _nesting(response: str, _: Kwargs) -> Verdict:
    """The deepest bracket group whose brackets all close in the right order; a stray or
    mismatched closer breaks the current run."""
    stack: list[str] = []
    run_max = best = 0
    for ch in response:
        if ch in _OPEN:
            stack.append(ch)
            run_max = max(run_max, len(stack))
        elif ch in _CLOSE:
            if stack and _OPEN.index(stack[-1]) == _CLOSE.index(ch):
                stack.pop()
                if not stack:
                    best, run_max = max(best, run_max), 0
            else:
                stack, run_max = [], 0
    return best >= MIN_NESTING, f"deepest balanced nesting {best} (needs {MIN_NESTING})"


CONSTRAINTS = [
    Constraint(
        "title_case",
        "format:title_case",
        lambda kw: (
            "Write your whole answer in title case: capitalise every word except short articles, "
            "conjunctions and prepositions."
        ),
        _title_case,
        source="ifbench",
    ),
    Constraint(
        "emoji",
        "format:emoji",
        lambda kw: "Finish every sentence with an emoji.",
        _emoji,
        source="ifbench",
    ),
    Constraint(
        "no_whitespace",
        "format:no_whitespace",
        lambda kw: "Do not use any spaces, tabs or line breaks anywhere in your answer.",
        _no_whitespace,
        source="ifbench",
    ),
    Constraint(
        "newline",
        "format:newline",
        lambda kw: "Put every word of your answer on its own line.",
        _newline,
        source="ifbench",
    ),
    Constraint(
        "options",
        "format:options",
        lambda kw: f"Reply with only one of these options and nothing else: {' / '.join(kw['options'])}.",
        _options,
        (Param("options", "str_list", low=2, high=8),),
        simple_sampler(options=lambda r: list(r.choice(banks.OPTION_SETS))),
        source="ifbench",
    ),
    Constraint(
        "output_template",
        "format:output_template",
        lambda kw: (
            "Fill in this template and write nothing else: "
            + " ".join(f"{label} [...]" for label in TEMPLATE_LABELS)
        ),
        _template,
        source="ifbench",
    ),
    Constraint(
        "parentheses",
        "format:parentheses",
        lambda kw: (
            f"Somewhere in your answer, nest brackets at least {MIN_NESTING} levels deep, mixing "
            f"(), [] and {{}}, e.g. ( [ {{ ( [ ... ] ) }} ] )."
        ),
        _nesting,
        source="ifbench",
    ),
]
