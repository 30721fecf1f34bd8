"""Text heuristics shared by the checkers: words, sentences, paragraphs, markdown, emoji.

These are deliberately simple and documented rather than clever: a benchmark label must be
explainable from the evidence, so each helper does one predictable thing.
"""

from __future__ import annotations

import re
import string
import unicodedata

# A word is a run of letters/digits, optionally joined by apostrophes or hyphens ("don't",
# "well-known"); underscores and markdown symbols are not part of words.
WORD_RE = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_LIST_MARK = re.compile(r"^\s*(?:[*+\-]|\d+[.)]|#{1,6})\s+")
_EMOJI_CLASS = "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u203c\u2049\ufe0f\u200d\u20e3]"
_CLOSERS = "\"'”’)]*_"
# A sentence ends at . ! ? … (plus closing quotes/brackets/markdown and any emoji right after)
# before whitespace, or at an emoji run followed by a capitalised word ("Love it 🎉 Then ...").
_SENT_END = re.compile(
    rf"[.!?…]+[{re.escape(_CLOSERS)}]*(?:[ \t]*{_EMOJI_CLASS}+)*(?=\s|$)|{_EMOJI_CLASS}+(?=[ \t]+[A-Z])"
)
# Tokens ending in a period that rarely end a sentence ("e.g. this", "Dr. Smith").
_ABBREVIATIONS = {"e.g.", "i.e.", "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "vs.", "cf.", "approx.", "no."}
_PARA_BREAK = re.compile(r"\n\s*\n")
_DIVIDER_LINE = re.compile(r"^[ \t]*\*\*\*[ \t]*$", re.MULTILINE)
_BULLET_LINE = re.compile(r"^[ \t]*[*+\-][ \t]+(?![*\-_ \t]*$)\S", re.MULTILINE)  # not a "* * *" rule
_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n(.*?)\n?```$", re.DOTALL)


def words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def count_word(text: str, word: str) -> int:
    """Case-insensitive whole-word occurrences ('cat' is not counted inside 'concatenate')."""
    return len(re.findall(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", text, re.IGNORECASE))


def strip_line_markup(line: str) -> str:
    """Drop a leading bullet, number or heading marker so it is not read as a word or sentence."""
    return _LIST_MARK.sub("", line)


def sentences(text: str) -> list[str]:
    """Split on . ! ? (and …) followed by whitespace, and on line breaks.

    Each line is its own unit (a heading or list item is a sentence), common abbreviations and
    single initials do not end a sentence, nor does a quoted '!' or '?' that the sentence goes on
    after, and decimals ("3.14") never do since no space follows.
    Pieces without any word are dropped.
    """
    out: list[str] = []
    for line in text.splitlines():
        line = strip_line_markup(line)
        start = 0
        for match in _SENT_END.finditer(line):
            piece = line[start : match.end()]
            if _ends_with_abbreviation(piece) or _quote_continues(piece, line[match.end() :]):
                continue
            out.append(piece.strip())
            start = match.end()
        out.append(line[start:].strip())
    return [s for s in out if WORD_RE.search(s)]


def _quote_continues(piece: str, rest: str) -> bool:
    """'He said "Stop!" and left.' is one sentence: a quoted mark followed by a lowercase word."""
    following = rest.lstrip()
    return piece.rstrip()[-1:] in '"”’)' and following[:1].islower()


def _ends_with_abbreviation(piece: str) -> bool:
    tokens = piece.split()
    if not tokens:
        return False
    last = tokens[-1].lower()
    return last in _ABBREVIATIONS or bool(re.fullmatch(r"[a-z]\.", last) and tokens[-1].isupper())


def sentence_end_mark(sentence: str) -> str | None:
    """The terminal mark of a sentence ('.', '?' or '!'), looking past closing quotes and emoji.

    A run like '?!' reads as a question, '!!' as an exclamation, '…' as a statement.
    """
    core = sentence.rstrip()
    while core and (
        core[-1] in _CLOSERS or core[-1].isspace() or is_emoji(core[-1]) or core[-1] in _EMOJI_GLUE
    ):
        core = core[:-1]
    run = core[len(core.rstrip(".?!…")) :]
    if not run:
        return None
    return "?" if "?" in run else ("!" if "!" in run else ".")


def paragraphs(text: str) -> list[str]:
    """Paragraphs separated by one or more blank lines."""
    return [p.strip() for p in _PARA_BREAK.split(text.strip()) if p.strip()]


def divider_paragraphs(text: str) -> tuple[list[str], bool]:
    """Paragraphs separated by markdown dividers (a '***' line), and whether an empty one sits
    between two dividers (an empty part at the very start or end is ignored)."""
    parts = [p.strip() for p in _DIVIDER_LINE.split(text)]
    while parts and not parts[0]:
        parts.pop(0)
    while parts and not parts[-1]:
        parts.pop()
    return [p for p in parts if p], any(not p for p in parts)


def bullet_lines(text: str) -> list[str]:
    """Markdown bullet lines ('* x', '- x', '+ x'); '**bold**' and '---' rules are not bullets."""
    return _BULLET_LINE.findall(text)


def strip_code_fence(text: str) -> str:
    """The content of a response wrapped in one ``` fence (with an optional language tag)."""
    stripped = text.strip()
    match = _FENCE.match(stripped)
    return match.group(1).strip() if match else stripped


def normalize_space(text: str) -> str:
    return " ".join(text.split())


def strip_punctuation(text: str) -> str:
    return "".join(
        ch for ch in text if not unicodedata.category(ch).startswith("P") and ch not in string.punctuation
    )


def is_emoji(ch: str) -> bool:
    """Pictographic code points: the emoji blocks, misc symbols/dingbats, arrows-and-stars."""
    cp = ord(ch)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or 0x2B00 <= cp <= 0x2BFF
        or 0x2300 <= cp <= 0x23FF
        or cp in (0x203C, 0x2049, 0x00A9, 0x00AE, 0x2122)
    )


_EMOJI_GLUE = "\ufe0f\u200d\u20e3"  # variation selector, zero-width joiner, keycap


def ends_with_emoji(text: str) -> bool:
    core = text.rstrip().rstrip(_EMOJI_GLUE)
    return bool(core) and is_emoji(core[-1])


def cased_letters(text: str) -> list[str]:
    return [ch for ch in text if ch.isupper() or ch.islower()]


def first_word(text: str) -> str | None:
    found = WORD_RE.search(strip_line_markup(text))
    return found.group(0) if found else None


STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves""".split()
)

PRONOUNS = frozenset(
    """i me my mine myself you your yours yourself yourselves he him his himself she her hers
    herself it its itself we us our ours ourselves they them their theirs themselves""".split()
)

CONJUNCTIONS = ("for", "and", "nor", "but", "or", "yet", "so")
