"""IFEval instructions about form: placeholders, postscripts, bullets, highlights, sections,
JSON, titles, two responses and repeating the prompt."""

from __future__ import annotations

import json
import random
import re

from pipeline.label.constraints import text
from pipeline.label.constraints.base import (
    Constraint,
    Kwargs,
    Param,
    SampleContext,
    Verdict,
    int_param,
    plural,
    prompt_param,
    simple_sampler,
)

ANSWER_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
# A bracketed word; a markdown link [x](url) is no placeholder.
_PLACEHOLDER = re.compile(r"\[[^\[\]\n]*[^\W_][^\[\]\n]*\](?!\()")
_BOLD = re.compile(r"\*\*(?=\S)([^*\n]*?\S)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]*?\S)\*(?![*\w])")
_TITLE = re.compile(r"<<([^<>\n]*\S[^<>\n]*)>>")
_ANSWER = re.compile(r"\bmy answer is (yes|no|maybe)\b", re.IGNORECASE)
_SIX_STARS = re.compile(r"(?<!\*)\*{6}(?!\*)")


def _placeholders(response: str, kw: Kwargs) -> Verdict:
    found = _PLACEHOLDER.findall(response)
    detail = f"{len(found)} placeholder(s) {found[:5]} (needs {kw['num_placeholders']}+)"
    return len(found) >= kw["num_placeholders"], detail


def _marker_regex(marker: str) -> re.Pattern[str]:
    """'P.P.S.' -> a line opening with P.P.S, dots and spaces optional, markdown allowed around it."""
    letters = [c for c in marker if c.isalpha()]
    body = r"\.?\s*".join(letters)
    return re.compile(rf"^[ \t>*_#]*{body}\b\.?[*_:]*[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


def _postscript(response: str, kw: Kwargs) -> Verdict:
    for match in _marker_regex(kw["postscript_marker"]).finditer(response):
        if text.WORD_RE.search(match.group(1)) or match.end() < len(response.rstrip()):
            return True, f"postscript line {match.group(0).strip()[:60]!r}"
    return False, f"no line starting with {kw['postscript_marker']!r}"


def _bullets(response: str, kw: Kwargs) -> Verdict:
    n = len(text.bullet_lines(response))
    return n == kw["num_bullets"], f"{n} markdown bullet point(s) (needs exactly {kw['num_bullets']})"


def _constrained(response: str, _: Kwargs) -> Verdict:
    said = {m.lower() for m in _ANSWER.findall(response)}
    found = [o for o in ANSWER_OPTIONS if o.split()[-1].rstrip(".").lower() in said]
    return len(found) == 1, f"options used: {found}" if found else "none of the allowed options used"


def _highlights(response: str, kw: Kwargs) -> Verdict:
    spans: list[str] = []
    for line in response.splitlines():
        line = text.strip_line_markup(line)
        spans += _BOLD.findall(line)
        spans += _ITALIC.findall(_BOLD.sub(" ", line))
    n = len(spans)
    return n >= kw["num_highlights"], f"{n} highlighted section(s) (needs {kw['num_highlights']}+)"


def _sections(response: str, kw: Kwargs) -> Verdict:
    header = re.compile(rf"^[ \t#*_>]*{re.escape(kw['section_spliter'])}[ \t]+\d+", re.MULTILINE)
    n = len(header.findall(response))
    detail = f"{n} '{kw['section_spliter']} X' header(s) (needs exactly {kw['num_sections']})"
    return n == kw["num_sections"], detail


def _json(response: str, _: Kwargs) -> Verdict:
    body = text.strip_code_fence(response)
    try:
        value = json.loads(body)
    except ValueError as err:
        return False, f"not valid JSON ({str(err)[:80]})"
    ok = isinstance(value, (dict, list))
    return ok, f"valid JSON {type(value).__name__}"


def _title(response: str, _: Kwargs) -> Verdict:
    found = _TITLE.search(response)
    return found is not None, f"title {found.group(0)!r}" if found else "no <<title>>"


def _two_responses(response: str, _: Kwargs) -> Verdict:
    parts = [p.strip() for p in _SIX_STARS.split(response)]
    if len(parts) != 2:
        return False, f"{len(parts)} part(s) split by ******"
    if not all(parts):
        return False, "one of the two responses is empty"
    different = parts[0] != parts[1]
    return different, "two different responses" if different else "both responses identical"


def _repeat_prompt(response: str, kw: Kwargs) -> Verdict:
    want = text.normalize_space(kw["prompt_to_repeat"]).casefold()
    got = text.normalize_space(response).casefold()
    if not got.startswith(want):
        return False, f"does not start with the request (starts {got[:40]!r})"
    rest = got[len(want) :].strip()
    return bool(rest), "request repeated, then answered" if rest else "request repeated but no answer follows"


def _s_sections(rng: random.Random, ctx: SampleContext) -> Kwargs:
    return {
        "section_spliter": ctx.value("section_spliter", lambda: rng.choice(("Section", "SECTION"))),
        "num_sections": ctx.value("num_sections", lambda: rng.randint(2, 5)),
    }


def _s_prompt(rng: random.Random, ctx: SampleContext) -> Kwargs:
    return {"prompt_to_repeat": ctx.value("prompt_to_repeat", lambda: ctx.need_prompt("repeat_prompt"))}


CONSTRAINTS = [
    Constraint(
        "number_placeholders",
        "detectable_content:number_placeholders",
        lambda kw: (
            f"Include at least {plural(kw['num_placeholders'], 'fill-in placeholder')} written in square "
            "brackets, for example [name]."
        ),
        _placeholders,
        (int_param("num_placeholders", 1, 20),),
        simple_sampler(num_placeholders=lambda r: r.randint(1, 4)),
    ),
    Constraint(
        "postscript",
        "detectable_content:postscript",
        lambda kw: f"Close your answer with a postscript that begins with {kw['postscript_marker']}",
        _postscript,
        (Param("postscript_marker", "choice", choices=("P.S.", "P.P.S.")),),
        simple_sampler(postscript_marker=lambda r: r.choice(("P.S.", "P.P.S."))),
    ),
    Constraint(
        "number_bullet_lists",
        "detectable_format:number_bullet_lists",
        lambda kw: (
            f"Format your answer as exactly {plural(kw['num_bullets'], 'markdown bullet point')} (lines "
            "starting with '* ' or '- '); use no other bullets."
        ),
        _bullets,
        (int_param("num_bullets", 1, 20),),
        simple_sampler(num_bullets=lambda r: r.randint(2, 6)),
    ),
    Constraint(
        "constrained_response",
        "detectable_format:constrained_response",
        lambda kw: f"Reply with exactly one of these sentences: {', '.join(repr(o) for o in ANSWER_OPTIONS)}",
        _constrained,
    ),
    Constraint(
        "number_highlighted_sections",
        "detectable_format:number_highlighted_sections",
        lambda kw: (
            f"Emphasise at least {plural(kw['num_highlights'], 'part')} of your answer with markdown "
            "asterisks, like *this part*."
        ),
        _highlights,
        (int_param("num_highlights", 1, 20),),
        simple_sampler(num_highlights=lambda r: r.randint(1, 4)),
    ),
    Constraint(
        "multiple_sections",
        "detectable_format:multiple_sections",
        lambda kw: (
            f"Organise your answer into exactly {plural(kw['num_sections'], 'section')}, each opening with a "
            f"header line '{kw['section_spliter']} 1', '{kw['section_spliter']} 2', and so on."
        ),
        _sections,
        (
            Param("section_spliter", "choice", choices=("Section", "SECTION", "Part", "PART")),
            int_param("num_sections", 1, 10),
        ),
        _s_sections,
    ),
    Constraint(
        "json_format",
        "detectable_format:json_format",
        lambda kw: (
            "Give your whole answer as valid JSON (an object or an array); a ```json code block "
            "around it is fine."
        ),
        _json,
    ),
    Constraint(
        "title",
        "detectable_format:title",
        lambda kw: "Give your answer a title enclosed in double angle brackets, e.g. <<my title>>.",
        _title,
    ),
    Constraint(
        "two_responses",
        "combination:two_responses",
        lambda kw: (
            "Write two different answers and put a line of exactly six asterisks (******) between "
            "them, with nothing else separating them."
        ),
        _two_responses,
    ),
    Constraint(
        "repeat_prompt",
        "combination:repeat_prompt",
        lambda kw: (
            "Begin by copying the request above exactly as written (leave out this sentence and "
            "put nothing before the copy), then answer it."
        ),
        _repeat_prompt,
        (prompt_param(),),
        _s_prompt,
    ),
]
