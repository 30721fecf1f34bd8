"""IFBench `format:*` instructions: brackets, quotes, bullets, lines, case and templates.

Several official checkers are looser or stricter than their text says (noted per checker); the
verdict here is the official one, not the text's.
"""

from __future__ import annotations

import re
import string
from itertools import pairwise

import emoji

from pipeline.label.ifbench import text
from pipeline.label.ifbench.base import (
    GIVEN,
    PUNCT,
    TRIM,
    IFBenchInstruction,
    Kwargs,
    drop_punct,
    fixed,
)

OPEN, CLOSE = "([{", ")]}"
SEPARATORS = ("...", "SEPARATOR", "!?!?", "-")
OPTION_SETS = ("yes/no/maybe", "I know or I don't know", "a), b), c), d)")


def _parentheses(response: str, kw: Kwargs) -> bool:
    # True as soon as a well-matched group that reached depth 5 starts closing; a mismatched closer
    # forgets everything opened so far
    stack: list[str] = []
    deepest = 0
    for ch in response:
        if ch in OPEN:
            stack.append(ch)
            deepest = max(deepest, len(stack))
        elif ch in CLOSE:
            if stack and OPEN.index(stack[-1]) == CLOSE.index(ch):
                stack.pop()
                if deepest >= 5 and len(stack) < deepest:
                    return True
            else:
                stack, deepest = [], 0
    return False


def _quotes(response: str, kw: Kwargs) -> bool:
    # " and ' (apostrophes too) open a level unless they close the innermost one; True once the
    # deepest level reached is 3 more than the current one
    stack: list[str] = []
    deepest = 0
    for ch in response:
        if stack and ch == stack[-1]:
            stack.pop()
            if deepest - len(stack) >= 3:
                return True
        elif ch in ('"', "'"):
            stack.append(ch)
            deepest = max(deepest, len(stack))
    return False


def _parse_options(options: str) -> tuple[bool, list[str]]:
    """(strict, choices) as the official builder derives them from the options text."""
    strict = re.match(r"\W*[aA]\W*[bB]\W*[cC]\W*", options) is not None  # lettered choices: exact match
    separator = "/" if "/" in options else "or" if "or" in options else ","
    return strict, [choice.strip() for choice in options.split(separator)]


def _options(response: str, kw: Kwargs) -> bool:
    options = kw["options"]
    strict, choices = _parse_options(options)
    if strict:
        return response in choices
    answer = response.strip(TRIM).lower()
    return any(choice.strip(TRIM).lower() == answer for choice in choices)


def _newline(response: str, kw: Kwargs) -> bool:
    # after deleting punctuation: as many non-empty lines as whitespace pieces
    bare = drop_punct(response).strip()
    lines = [line for line in bare.split("\n") if line != ""]
    return len(lines) == len(bare.split())


def _emoji(response: str, kw: Kwargs) -> bool:
    # each sentence ends with an emoji in its last two characters (punctuation deleted, stripped),
    # or the next sentence starts with one
    found = text.sentences(response)
    for i, sentence in enumerate(found):
        bare = drop_punct(sentence).strip()
        if not bare:
            return False
        if emoji.is_emoji(bare[-1]) or emoji.is_emoji(bare[-2] if len(bare) > 1 else bare[-1]):
            continue
        if i == len(found) - 1:
            return False
        following = drop_punct(found[i + 1]).strip()
        if not following or not emoji.is_emoji(following[0]):
            return False
    return True


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _line_indent(response: str, kw: Kwargs) -> bool:
    lines = response.split("\n")
    # The official code removes blank lines from the list it is iterating over: the line after each
    # removed one is not looked at (so of two blank lines in a row one stays), and remove() takes
    # the first equal line. Reproduced on purpose: it decides verdicts.
    for line in lines:
        if not line.strip():
            lines.remove(line)
    return all(_indent(b) > _indent(a) for a, b in pairwise(lines))


def _quote_unquote(response: str, kw: Kwargs) -> bool:
    # no whitespace-separated quotes back to back, and no quote at the very end (ignoring trailing
    # digits and other punctuation); a quoted '"' character is ignored
    squeezed = "".join(response.replace("'\"'", "").split())
    if '""' in squeezed:
        return False
    tail = squeezed.strip(string.digits + PUNCT.replace('"', ""))
    return not (tail and tail[-1] == '"')


def _list(response: str, kw: Kwargs) -> bool:
    # the separator appears at least twice anywhere (not necessarily starting lines)
    sep = kw["sep"]
    return len(re.findall(re.escape(sep), response)) >= 2


def _thesis(response: str, kw: Kwargs) -> bool:
    start = response.find("<i>")
    if start == -1:
        start = response.find("<em>")
        if start == -1:
            return False
    rest = response[start:]
    end = rest.find("</i>")
    if end == -1:
        end = rest.find("</em>")
        if end == -1:
            return False
    # the official offsets assume <i>...</i> (3 and 4 characters) even for <em>...</em>
    return rest[3:end].strip() != "" and rest[end + 4:].strip() != ""


def _sub_bullets(response: str, kw: Kwargs) -> bool:
    # every piece after a "*" (anywhere) contains a "-" (anywhere)
    return all("-" in piece for piece in response.split("*")[1:])


def _no_bullets_bullets(response: str, kw: Kwargs) -> bool:
    # Lines before the first "*" line add their punkt sentences (at least 2 needed); after bullets
    # start, any non-bullet line fails. Official quirk kept: an empty line before the bullets leaves
    # an empty sentence list behind, and then the next non-bullet line fails.
    before_bullets: bool | list[str] = True
    n_sentences = n_bullets = 0
    for line in response.split("\n"):
        if line.strip().startswith("*"):
            before_bullets = False
            if n_sentences < 2:
                return False
            n_bullets += 1
        elif before_bullets:
            before_bullets = text.sentences(line.strip())
            n_sentences += len(before_bullets)
        else:
            return False
    return n_bullets >= 2


def _title_case(response: str, kw: Kwargs) -> bool:
    # NLTK tokens starting with a letter: one letter must be upper case; longer ones fail when the
    # first letter is lower case and the rest is all lower or all upper ("n't" fails, "iPhone" passes)
    for tok in text.tokens(response):
        if not tok or not tok[0].isalpha():
            continue
        if len(tok) == 1:
            if tok[0].islower():
                return False
            continue
        head, rest = tok[0], tok[1:]
        if head.isupper() and rest.islower():
            continue
        if head.islower() and (rest.isupper() or rest.islower()):
            return False
    return True


def _output_template(response: str, kw: Kwargs) -> bool:
    # the three labels anywhere, in any order
    return all(label in response for label in ("My Answer:", "My Conclusion:", "Future Outlook:"))


def _no_whitespace(response: str, kw: Kwargs) -> bool:
    return not any(ch.isspace() for ch in response)


def _choice(key: str, values: tuple[str, ...]):
    return lambda rng, prompt: {key: rng.choice(values)}


INSTRUCTIONS = [
    fixed("format:parentheses", "Nest parentheses (and [brackets {and braces}]) at least 5 levels deep.",
          _parentheses),
    fixed("format:quotes",
          "Include quotes within quotes within quotes, at least 3 levels deep, alternating between double "
          "quotes and single quotes.", _quotes),
    IFBenchInstruction(
        "format:options", ("options",),
        "Answer with one of the following options: {options}. Do not give any explanation.",
        _options, _choice("options", OPTION_SETS), redraw={"options": GIVEN}),
    fixed("format:newline", "Write each word on a new line.", _newline),
    fixed("format:emoji", "Please use an emoji at the end of every sentence.", _emoji),
    fixed("format:line_indent", "Create stairs by incrementally indenting each new line.", _line_indent),
    fixed("format:quote_unquote", "Every quoted phrase must be followed by an unquoted explanation.",
          _quote_unquote),
    IFBenchInstruction(
        "format:list", ("sep",), "Answer with a list of items, instead of bullet points use {sep}.",
        _list, _choice("sep", SEPARATORS), redraw={"sep": GIVEN}),
    fixed("format:thesis",
          "Each section must begin with a thesis statement in italics, use HTML to indicate the italics.",
          _thesis),
    fixed("format:sub-bullets",
          "Your response must include bullet points denoted by * and at least one sub-bullet point denoted "
          "by - for each bullet point.", _sub_bullets),
    fixed("format:no_bullets_bullets",
          "Your answer must contain at least two sentences ending in a period followed by at least two "
          "bullet points denoted by *.", _no_bullets_bullets),
    fixed("format:title_case",
          "Write the entire response in title case (capitalize the first letter of every major word).",
          _title_case),
    fixed("format:output_template",
          "Use this exact template for your response: My Answer: [answer] My Conclusion: [conclusion] "
          "Future Outlook: [outlook]", _output_template),
    fixed("format:no_whitespace", "The output should not contain any whitespace.", _no_whitespace),
]
