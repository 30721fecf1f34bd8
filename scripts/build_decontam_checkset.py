"""Build a labelled check set for calibrating a decontamination detector.

Run from the repository root, after scripts/bundle_eval_data.py:

    python scripts/build_decontam_checkset.py

Reads only the bundled files under data/evalsets/ and data/pools/ and writes
data/calibration/decontam_checkset.jsonl and data/calibration/README.md. Deterministic: every random
choice comes from a random.Random seeded with SEED and a fixed string. Standard library only.

Each line: {"id", "text", "label": "contaminated"|"clean", "kind", "eval_set", "eval_id"}.
Positives are eval items, copied or edited (kinds below); negatives are human prompts from the pools
that do not equal any eval item after canonicalisation.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

SEED = 20240917
PER_SET = 50
POSITIVE_SETS = [
    "gsm8k",
    "math500",
    "ifeval",
    "alpaca_eval",
    "truthfulqa",
    "mmlu",
    "humaneval",
    "xstest",
    "arena_hard",
    "bbh",
]
KINDS = ["exact", "surface", "prefix", "suffix", "truncated", "paraphrase", "numbers",
         "truncated_heavy", "reordered", "embedded", "names_units"]
SHORT_ITEM_NEGATIVES = 150  # clean long prompts with a short generic eval question inside
# How many clean prompts to draw from each pool (None: every eligible prompt).
NEGATIVE_QUOTA = {
    "oasst_prompts": 700,
    "nq_open_dev": 550,
    "self_instruct_seed": None,
    "hh_rlhf_harmless_base_test": 575,
}
DATA = Path("data")
OUT = DATA / "calibration"

# ----------------------------------------------------------------------------- hand-written tables

LEAD_INS = [
    "Hey, quick question:",
    "Can you help me with this?",
    "My teacher gave us this problem:",
    "I'm stuck on the following.",
    "Hi! I was wondering about something.",
    "Could you take a look at this for me?",
    "I need some help here:",
    "Here's something I came across today:",
    "Question for you:",
    "Please help.",
    "So my friend asked me this and I couldn't answer:",
    "I have a task for you.",
    "Okay, here goes:",
    "This came up at work today:",
    "I've been trying to figure this out for a while.",
    "Hello, can you answer this?",
    "From my homework:",
    "Random question, but",
    "Let me ask you something.",
    "I'd appreciate your help with the following:",
]

TRAILERS = [
    "Please explain step by step.",
    "Thanks in advance!",
    "Keep the answer short.",
    "Can you show your reasoning?",
    "I'd really appreciate a detailed answer.",
    "Thank you!",
    "Please be concise.",
    "Explain it like I'm five.",
    "Answer in a friendly tone, please.",
    "What do you think?",
    "Please double-check your answer.",
    "Make it easy to follow.",
    "No need for a long explanation.",
    "Thanks so much for your help.",
    "Give me the final answer at the end.",
    "Could you also mention any common mistakes?",
    "I need this for tomorrow.",
    "Use bullet points if that helps.",
    "Please don't skip any steps.",
    "Cheers!",
]

# A question embedded in a longer request: (before, after) around the item.
FRAMES = [
    ("I'm putting together a study guide for my class and want one worked example in it. This is the one I picked:",
     "Could you write it up with a full answer, and then suggest two follow-up questions of similar difficulty?"),
    ("My team has a weekly quiz and it's my turn to host. Before I use this one I want to be sure about it:",
     "Please answer it, and tell me whether you think it is too easy or too hard for adults."),
    ("I'm testing a few chatbots for a blog post and I give each of them the same thing to do.",
     "After you answer, rate how confident you are from 1 to 10 and say what would change your mind."),
    ("Context: I tutor a high-school student twice a week and she brought this to our last session.",
     "Explain it the way you would to her, without skipping the reasoning, and keep it friendly."),
    ("For a workshop on clear writing I need a model answer to something concrete, so here it is:",
     "Write the answer first, then a short note on why it is structured the way it is."),
    ("My manager forwarded me this and asked for a reply by the end of the day.",
     "I'd like something I can paste straight into an email, plus one sentence summarising it."),
    ("I've been arguing with my roommate about this for an hour and we agreed to ask an AI.",
     "Give us the answer and settle it, but be fair to both sides if there is any doubt."),
    ("I'm building a small practice set for myself and want to check my own answer to this one first.",
     "Don't just give the result: walk me through it so I can compare with what I did."),
]

# Paraphrase table: each entry applies at word boundaries, case-insensitively, in one pass
# (longest match first), keeping the case pattern of the matched text.
SUBSTITUTIONS = {
    "how many": "what number of",
    "a lot of": "plenty of",
    "lots of": "plenty of",
    "in order to": "so as to",
    "is able to": "can",
    "are able to": "can",
    "as well as": "along with",
    "for example": "for instance",
    "such as": "like",
    "at least": "no less than",
    "at most": "no more than",
    "in total": "altogether",
    "each day": "every day",
    "per day": "a day",
    "make sure": "ensure",
    "find out": "discover",
    "come up with": "think of",
    "a few": "several",
    "calculate": "compute",
    "calculates": "computes",
    "write": "compose",
    "writes": "composes",
    "explain": "describe",
    "explains": "describes",
    "describe": "outline",
    "describes": "outlines",
    "buy": "purchase",
    "buys": "purchases",
    "bought": "purchased",
    "big": "large",
    "small": "little",
    "find": "determine",
    "show": "demonstrate",
    "shows": "demonstrates",
    "help": "assist",
    "start": "begin",
    "starts": "begins",
    "get": "obtain",
    "gets": "obtains",
    "make": "create",
    "makes": "creates",
    "create": "generate",
    "creates": "generates",
    "give": "provide",
    "gives": "provides",
    "need": "require",
    "needs": "requires",
    "tell": "inform",
    "think": "believe",
    "question": "query",
    "questions": "queries",
    "quickly": "rapidly",
    "happy": "glad",
    "important": "significant",
    "difficult": "challenging",
    "easy": "simple",
    "many": "numerous",
    "also": "additionally",
    "however": "nevertheless",
    "because": "since",
    "maybe": "perhaps",
    "often": "frequently",
    "kids": "children",
    "car": "vehicle",
    "cars": "vehicles",
    "house": "home",
    "store": "shop",
    "job": "occupation",
    "try": "attempt",
    "choose": "select",
    "method": "approach",
    "methods": "approaches",
    "example": "instance",
    "examples": "instances",
    "remaining": "leftover",
    "entire": "whole",
    "usually": "typically",
    "main": "primary",
    "story": "tale",
    "short": "brief",
    "people": "individuals",
    "person": "individual",
    "please": "kindly",
    "suggest": "recommend",
    "different": "distinct",
    "idea": "notion",
    "ideas": "notions",
    "funny": "amusing",
    "smart": "clever",
    "fix": "repair",
}

# At most one of these is applied, and only at the very start of the text.
LEAD_REWORDINGS = [
    ("what is", "Tell me"),
    ("what are", "Tell me"),
    ("how do i", "What's the best way to"),
    ("how can i", "What's a good way to"),
    ("can you", "Could you"),
    ("could you", "Would you"),
    ("is it possible to", "Can one"),
    ("i want to", "I would like to"),
]

# ----------------------------------------------------------------------------- helpers


def canonical(text: str) -> str:
    """NFC, casefold, runs of non-alphanumerics to one space, stripped."""
    text = unicodedata.normalize("NFC", text).casefold()
    return re.sub(r"[\W_]+", " ", text).strip()


def read_registry(kind: str) -> list[dict]:
    with open(DATA / kind / "registry.tsv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def match_case(src: str, repl: str) -> str:
    if len(src) > 1 and src.isupper():
        return repl.upper()
    if src[:1].isupper():
        return repl[:1].upper() + repl[1:]
    return repl


WORDS = re.compile(r"\S+")
SUB_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(SUBSTITUTIONS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
# A digit run not inside an identifier (x2, mp3) and not an ordinal (2nd); units may follow (10km).
INTEGER = re.compile(r"(?<![A-Za-z_\d])\d+(?!\d)(?!(?:st|nd|rd|th)\b)")
SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*)([A-Za-z])")


# ----------------------------------------------------------------------------- transformations


def surface(text: str, rng: random.Random) -> str | None:
    out = text
    # casing
    if rng.random() < 0.5:
        out = out.lower()
    else:
        starts = [m.start(1) for m in SENTENCE_START.finditer(out)]
        if starts:
            flip = [p for p in starts if rng.random() < 0.7] or [starts[0]]
            chars = list(out)
            for p in flip:
                chars[p] = chars[p].swapcase()
            out = "".join(chars)
    # whitespace
    w = rng.randrange(3)
    if w == 0:
        out = " ".join(out.split())
    elif w == 1:
        out = re.sub(r" ", lambda m: "  " if rng.random() < 0.25 else " ", out)
    else:
        out = re.sub(r"([.?!]) ", lambda m: m.group(1) + ("\n" if rng.random() < 0.5 else " "), out)
        out = "  " + out + "\n"
    # punctuation
    p = rng.randrange(3)
    if p == 0 and "," in out:
        out = out.replace(",", "")
    elif p == 1 and out.rstrip()[-1:] in ".?!":
        core = out.rstrip()
        out = core[:-1] + out[len(core):]
    else:
        core = out.rstrip()
        out = core + ("?" if core.endswith("?") or rng.random() < 0.5 else ".") + out[len(core):]
    if out == text:
        out = text.lower() if text.lower() != text else text.upper()
    return out if out != text and out.strip() else None


def prefix(text: str, rng: random.Random) -> str:
    return rng.choice(LEAD_INS) + rng.choice([" ", "\n", "\n\n"]) + text


def suffix(text: str, rng: random.Random) -> str:
    return text.rstrip() + rng.choice([" ", "\n", "\n\n"]) + rng.choice(TRAILERS)


def truncated(text: str, rng: random.Random) -> str | None:
    words = list(WORDS.finditer(text))
    if len(words) < 12:
        return None
    keep = max(8, round(0.6 * len(words)))
    return text[: words[keep - 1].end()]


def truncated_heavy(text: str, rng: random.Random) -> str | None:
    """A question cut to its first words: the first 35% of the words (at least 8)."""
    words = list(WORDS.finditer(text))
    if len(words) < 20:
        return None
    keep = max(8, round(0.35 * len(words)))
    return text[: words[keep - 1].end()]


SENTENCE_SPLIT = re.compile(r"(?<=[.?!])\s+(?=[A-Z\"'(])")


def reordered(text: str, rng: random.Random) -> str | None:
    """Sentences in another order (the question first, or rotated); a one-sentence item has its
    clauses around the first comma swapped; items with neither are skipped."""
    parts = [p for p in SENTENCE_SPLIT.split(text.strip()) if p]
    if len(parts) >= 2:
        if rng.random() < 0.5:
            order = parts[-1:] + parts[:-1]
        else:
            order = parts[:]
            while order == parts:
                rng.shuffle(order)
        return " ".join(order)
    head, sep, tail = text.strip().partition(", ")
    if not sep or len(head.split()) < 3 or len(tail.split()) < 3:
        return None
    end = tail[-1] if tail[-1] in ".?!" else ""
    tail = tail[:-1] if end else tail
    return tail[:1].upper() + tail[1:] + ", " + head[:1].lower() + head[1:] + end


def embedded(text: str, rng: random.Random) -> str | None:
    """Items under 8 words are skipped: a short question inside a longer request is, like the
    `clean:short-item-in-long` rows, not counted as that item (the containment rule's 8-word floor)."""
    if len(canonical(text).split()) < MIN_CONTAINED_WORDS:
        return None
    before, after = rng.choice(FRAMES)
    return before + rng.choice([" ", "\n\n"]) + text.strip() + rng.choice([" ", "\n\n"]) + after


NAMES = ["Maria", "Kwame", "Priya", "Tomasz", "Aiko", "Diego", "Fatima", "Oliver", "Lena", "Hassan"]
CAP_NAME = re.compile(r"(?<=[a-z,;] )([A-Z][a-z]{2,})\b")
UNIT_SWAP = {"miles": "kilometers", "kilometers": "miles", "hours": "minutes", "minutes": "hours",
             "dollars": "euros", "pounds": "kilograms", "feet": "meters", "meters": "feet", "cups": "liters",
             "days": "weeks", "weeks": "days", "inches": "centimeters"}
UNIT_RE = re.compile(r"\b(" + "|".join(UNIT_SWAP) + r")\b")


def names_units(text: str, rng: random.Random) -> str | None:
    """A template reused: every integer changed (as `numbers`), and names (capitalised words inside a
    sentence) and common units swapped for others; items with no name or unit to change are skipped."""
    out = numbers(text, rng) or text
    names = sorted(set(CAP_NAME.findall(out)))
    swap = {n: rng.choice([m for m in NAMES if m != n]) for n in names}
    out = CAP_NAME.sub(lambda m: swap[m.group(1)], out)
    out2 = UNIT_RE.sub(lambda m: UNIT_SWAP[m.group(1)], out)
    if not (names or out2 != out):
        return None
    return out2 if out2 != text else None


def paraphrase(text: str, rng: random.Random) -> str | None:
    head, rest, changed = "", text, 0
    lead = len(text) - len(text.lstrip())
    for src, dst in LEAD_REWORDINGS:
        cand = text[lead : lead + len(src)]
        after = text[lead + len(src) : lead + len(src) + 1]
        if cand.lower() == src and (not after or not after.isalnum()):
            head, rest, changed = text[:lead] + dst, text[lead + len(src) :], 1
            break

    def sub(m: re.Match) -> str:
        nonlocal changed
        changed += 1
        return match_case(m.group(0), SUBSTITUTIONS[m.group(0).lower()])

    out = head + SUB_RE.sub(sub, rest)
    return out if changed and out != text else None


def numbers(text: str, rng: random.Random) -> str | None:
    def new(m: re.Match) -> str:
        old = m.group(0)
        while True:
            if len(old) == 1:
                cand = str(rng.randrange(10))
            else:
                first = str(rng.randrange(10)) if old[0] == "0" else str(rng.randrange(1, 10))
                cand = first + "".join(str(rng.randrange(10)) for _ in range(len(old) - 1))
            if cand != old:
                return cand

    if not INTEGER.search(text):
        return None
    return INTEGER.sub(new, text)


TRANSFORMS = {
    "exact": lambda t, r: t,
    "surface": surface,
    "prefix": prefix,
    "suffix": suffix,
    "truncated": truncated,
    "paraphrase": paraphrase,
    "numbers": numbers,
    "truncated_heavy": truncated_heavy,
    "reordered": reordered,
    "embedded": embedded,
    "names_units": names_units,
}

# ----------------------------------------------------------------------------- build

MIN_CONTAINED_WORDS = 8  # same floor as the `truncated` kind


def containment(texts: set[str], eval_canon: dict[str, set[str]]) -> dict[str, set[str]]:
    """Canonical texts that contain, or are contained in, a canonical eval item, as whole words.

    The shorter side must have at least MIN_CONTAINED_WORDS words. Candidates are found through the
    first MIN_CONTAINED_WORDS words of the shorter side, then checked as a substring.
    """
    n = MIN_CONTAINED_WORDS
    hits: dict[str, set[str]] = defaultdict(set)

    def head(c: str) -> str | None:
        w = c.split(" ")
        return " ".join(w[:n]) if len(w) >= n else None

    def grams(c: str):
        w = c.split(" ")
        return {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}

    # eval item inside a text
    by_head: dict[str, list[str]] = defaultdict(list)
    for e in eval_canon:
        h = head(e)
        if h:
            by_head[h].append(e)
    for t in texts:
        for g in grams(t):
            for e in by_head.get(g, ()):
                if e != t and f" {e} " in f" {t} ":
                    hits[t] |= eval_canon[e]
    # text inside an eval item
    text_heads: dict[str, list[str]] = defaultdict(list)
    for t in texts:
        h = head(t)
        if h:
            text_heads[h].append(t)
    for e, names in eval_canon.items():
        for g in grams(e):
            for t in text_heads.get(g, ()):
                if e != t and f" {t} " in f" {e} ":
                    hits[t] |= names
    return hits



SHORT_SETS = ["alpaca_eval", "truthfulqa", "xstest", "coconot", "mt_bench", "self_instruct_user_oriented"]
JOINERS = ["Also, unrelated: ", "One more thing. ", "Oh, and a side question: ", "PS: ", ""]


def short_item_negatives(evals: dict, eligible: dict, drawn: set[str]) -> list[dict]:
    """Long genuine prompts (40+ words, not drawn above) with a short eval question (3-7 words) added
    as an aside: the prompt is not that eval item, so it is clean (issue 20: a short generic question
    inside a long prompt must not drop it)."""
    shorts = sorted({item["text"].strip() for name in SHORT_SETS for item in evals[name]
                     if 3 <= len(canonical(item["text"]).split()) <= 7})  # fmt: skip
    longs = [(pool, p) for pool in ("oasst_prompts", "hh_rlhf_harmless_base_test", "self_instruct_seed")
             for p in eligible[pool] if len(p["prompt"].split()) >= 40 and f"clean/{pool}/{p['id']}" not in drawn]
    rng = random.Random(f"{SEED}:short-item-negatives")
    out = []
    for pool, p in rng.sample(longs, min(SHORT_ITEM_NEGATIVES, len(longs))):
        text = p["prompt"].rstrip() + rng.choice(["\n\n", " "]) + rng.choice(JOINERS) + rng.choice(shorts)
        out.append(row(f"clean/short-item-in-long/{pool}/{p['id']}", text, "clean", "clean:short-item-in-long"))
    return out


def row(rid: str, text: str, label: str, kind: str, eval_set: str = "", eval_id: str = "") -> dict:
    return {"id": rid, "text": text, "label": label, "kind": kind, "eval_set": eval_set, "eval_id": eval_id}


def main() -> None:
    eval_reg = read_registry("evalsets")
    pool_reg = read_registry("pools")
    evals = {r["name"]: read_jsonl(Path(r["path"])) for r in eval_reg}
    pools = {r["name"]: read_jsonl(Path(r["path"])) for r in pool_reg}

    rows: list[dict] = []
    skipped: dict[str, Counter] = defaultdict(Counter)
    for name in POSITIVE_SETS:
        picked = sorted(random.Random(f"{SEED}:sample:{name}").sample(range(len(evals[name])), PER_SET))
        for item in (evals[name][i] for i in picked):
            for kind in KINDS:
                rng = random.Random(f"{SEED}:{kind}:{name}:{item['id']}")
                text = TRANSFORMS[kind](item["text"], rng)
                if text is None:
                    skipped[name][kind] += 1
                    continue
                rows.append(row(f"{kind}/{name}/{item['id']}", text, "contaminated", kind, name, item["id"]))

    # natural: OASST validation roots that are AlpacaEval prompts
    def loose(s: str) -> str:
        return " ".join(s.lower().split())

    alpaca = {}
    for item in evals["alpaca_eval"]:
        alpaca.setdefault(loose(item["text"]), item["id"])
    natural = 0
    for p in pools["oasst1_en_validation"]:
        hit = alpaca.get(loose(p["prompt"]))
        if hit is not None:
            rows.append(row(f"natural/oasst1_en_validation/{p['id']}", p["prompt"], "contaminated", "natural", "alpaca_eval", hit))
            natural += 1

    # negatives
    eval_canon: dict[str, set[str]] = defaultdict(set)
    for name, items in evals.items():
        for item in items:
            eval_canon[canonical(item["text"])].add(name)
    oasst_val = {canonical(p["prompt"]) for p in pools["oasst1_en_validation"]}
    pool_canon = {canonical(p["prompt"]) for pool in NEGATIVE_QUOTA for p in pools[pool]}
    contained = containment(pool_canon, eval_canon)
    excluded: dict[str, Counter] = defaultdict(Counter)
    eligible: dict[str, list[dict]] = {}
    seen: set[str] = set()
    for pool in NEGATIVE_QUOTA:
        keep = []
        for p in pools[pool]:
            c = canonical(p["prompt"])
            if not c:
                excluded[pool]["no alphanumeric text"] += 1
            elif c in eval_canon:
                excluded[pool]["equals an eval item (" + ", ".join(sorted(eval_canon[c])) + ")"] += 1
            elif c in contained:
                excluded[pool]["contains or is contained in an eval item (" + ", ".join(sorted(contained[c])) + ")"] += 1
            elif c in oasst_val:
                excluded[pool]["equals an oasst1_en_validation prompt"] += 1
            elif c in seen:
                excluded[pool]["repeats a prompt already in an earlier pool"] += 1
            else:
                seen.add(c)
                keep.append(p)
        eligible[pool] = keep
    negatives: dict[str, int] = {}
    for pool, quota in NEGATIVE_QUOTA.items():
        cand = eligible[pool]
        n = len(cand) if quota is None else min(quota, len(cand))
        picked = sorted(random.Random(f"{SEED}:negatives:{pool}").sample(range(len(cand)), n))
        for i in picked:
            p = cand[i]
            rows.append(row(f"clean/{pool}/{p['id']}", p["prompt"], "clean", f"clean:{pool}"))
        negatives[pool] = n
    drawn = {r["id"] for r in rows}
    rows.extend(short_item_negatives(evals, eligible, drawn))

    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate ids"
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "decontam_checkset.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    write_readme(rows, skipped, natural, excluded, eligible, negatives, eval_reg, pool_reg)
    by_kind = Counter(r["kind"] for r in rows)
    print(f"{len(rows)} rows -> {OUT / 'decontam_checkset.jsonl'}")
    for k, v in by_kind.items():
        print(f"  {k}: {v}")
    for pool, c in excluded.items():
        print(f"  excluded from {pool}: {dict(c)}")


def write_readme(rows, skipped, natural, excluded, eligible, negatives, eval_reg, pool_reg) -> None:
    by_kind = Counter(r["kind"] for r in rows)
    by_set_kind: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        if r["label"] == "contaminated":
            by_set_kind[r["eval_set"]][r["kind"]] += 1
    n_pos = sum(1 for r in rows if r["label"] == "contaminated")
    n_neg = len(rows) - n_pos
    lic = {r["name"]: r for r in eval_reg} | {r["name"]: r for r in pool_reg}

    L: list[str] = []
    add = L.append
    add("# Decontamination check set")
    add("")
    add("`decontam_checkset.jsonl` is a labelled set for calibrating a decontamination detector (choosing")
    add("its thresholds and measuring recall per kind of leak and false-positive rate on genuine prompts).")
    add(f"It has {len(rows)} rows: {n_pos} `contaminated` and {n_neg} `clean`. Each line is")
    add("")
    add('    {"id", "text", "label": "contaminated"|"clean", "kind", "eval_set", "eval_id"}')
    add("")
    add("`eval_set`/`eval_id` name the bundled eval item a positive was made from")
    add("(`data/evalsets/<eval_set>/items.jsonl[.gz]`); they are empty for clean rows.")
    add("")
    add("Rebuild (deterministic, fixed seed, standard library only; reads only the bundled files):")
    add("")
    add("    python scripts/bundle_eval_data.py ../shared/data   # only if data/evalsets or data/pools must change")
    add("    python scripts/build_decontam_checkset.py")
    add("")
    add("## Positives")
    add("")
    add(f"{PER_SET} items are drawn (seeded) from each of {len(POSITIVE_SETS)} eval sets:")
    add(", ".join(POSITIVE_SETS) + ".")
    add("Each item gives one row per kind below, unless the kind does not apply to it:")
    add("")
    add("| kind | what the text is | rows |")
    add("|---|---|---|")
    descr = {
        "exact": "the eval item verbatim",
        "surface": "casing (all lower case, or flipped case at sentence starts), whitespace (collapsed, "
        "doubled spaces, or line breaks after sentences plus padding) and punctuation (commas removed, "
        "final mark removed, or a final `?`/`.` added) edits",
        "prefix": f"one of {len(LEAD_INS)} hand-written user lead-ins, then the item",
        "suffix": f"the item, then one of {len(TRAILERS)} hand-written trailing requests",
        "truncated": "the first 60% of the words (at least 8), original spacing kept; items under 12 words skipped",
        "paraphrase": f"rule-based: {len(SUBSTITUTIONS)} word/phrase substitutions applied to every match "
        "(word boundaries, case kept) plus at most one rewording of the opening words; items with no "
        "substitution skipped",
        "numbers": "every integer (a digit run not preceded by a letter, not an ordinal like `2nd`) replaced by "
        "a different one with the same number of digits; items without integers skipped",
        "natural": "OASST1 validation root prompts equal to an AlpacaEval prompt after lower-casing and "
        "collapsing whitespace (a real-world leak: AlpacaEval's `oasst` prompts come from there)",
        "truncated_heavy": "a question cut to its first words: the first 35% of the words (at least 8); items "
        "under 20 words skipped",
        "reordered": "sentences in another order (the last one first, or shuffled); a one-sentence item has the "
        "clauses around its first comma swapped; items with neither skipped",
        "embedded": f"the item inside a longer request: one of {len(FRAMES)} hand-written framings, a sentence "
        "or two before and a request after; items under 8 words skipped (a short question inside a longer "
        "request is not counted as that item, as for `clean:short-item-in-long`)",
        "names_units": "a template reused: every integer changed as in `numbers`, capitalised words inside a "
        f"sentence (names, mostly) replaced from {len(NAMES)} names, common units swapped (miles/kilometers, "
        "hours/minutes, ...); items with no name or unit skipped",
    }
    for kind in KINDS + ["natural"]:
        add(f"| `{kind}` | {descr[kind]} | {by_kind[kind]} |")
    add("")
    add("Rows per eval set and kind:")
    add("")
    cols = KINDS + ["natural"]
    add("| eval set | " + " | ".join(cols) + " | total |")
    add("|---|" + "---|" * (len(cols) + 1))
    for name in POSITIVE_SETS:
        c = by_set_kind[name]
        add(f"| {name} | " + " | ".join(str(c[k]) for k in cols) + f" | {sum(c.values())} |")
    add("")
    add("Edits are made by rule, so some are not fluent (a paraphrase can read oddly, a number change can")
    add("make a problem inconsistent); they are meant to look like leaked text, not like good prompts.")
    add("MMLU and BBH items are the question text only, so some are short and generic.")
    add("")
    add("## Negatives")
    add("")
    add("Clean rows (`kind` = `clean:<pool>`) are genuine human prompts from the bundled pools, drawn")
    add("(seeded) from the prompts left after the exclusions below:")
    add("")
    add("| pool | eligible | drawn |")
    add("|---|---|---|")
    for pool in NEGATIVE_QUOTA:
        add(f"| {pool} | {len(eligible[pool])} | {negatives[pool]} |")
    add("")
    add("Exclusion rule: a pool prompt is left out when its canonical form (Unicode NFC, casefolded, every")
    add("run of non-alphanumeric characters replaced by one space, stripped) equals the canonical form of")
    add("any item of any bundled eval set (all of `data/evalsets/`, not only the ten above), or when one")
    add("of the two canonical forms contains the other as whole words and the shorter has at least")
    add(f"{MIN_CONTAINED_WORDS} words (a prompt inside a jailbreak template, an eval question with a few words")
    add("added: the `truncated`, `prefix` and `suffix` kinds label such text contaminated). All")
    add("`oasst1_en_validation` prompts are left out too (their English roots are AlpacaEval's `oasst`")
    add("prompts), as is any pool prompt equal to one of them, and a prompt whose canonical form")
    add("already came from an earlier pool. Excluded:")
    add("")
    add("| pool | reason | prompts |")
    add("|---|---|---|")
    for pool in NEGATIVE_QUOTA:
        c = excluded.get(pool, Counter())
        if not c:
            add(f"| {pool} | — | 0 |")
        for reason, n in sorted(c.items()):
            add(f"| {pool} | {reason} | {n} |")
    add("")
    add("")
    add(f"Also clean (`clean:short-item-in-long`, up to {SHORT_ITEM_NEGATIVES} rows): a genuine prompt of 40+ words")
    add("not drawn above, with a short eval question (3-7 words, from " + ", ".join(SHORT_SETS) + ")")
    add("added as an aside. The prompt is not that eval item; a detector that counts overlap as a share")
    add("of the shorter text drops it.")
    add("")
    add(f"In all, {sum(sum(c.values()) for c in excluded.values())} pool prompts were excluded. A clean prompt can still be close to an eval")
    add("item in wording or topic (a shared stock phrase, the same question asked differently): that is")
    add("what a detector has to tell apart from the edited positives.")
    add("")
    add("## Licenses")
    add("")
    add("Every row keeps the license of the set it was copied or derived from; the lead-ins, trailing")
    add("requests and substitution tables were written for this project.")
    add("")
    add("| source | used for | license (as recorded for the source) |")
    add("|---|---|---|")
    for name in POSITIVE_SETS:
        add(f"| `data/evalsets/{name}` ({lic[name]['source_repo']}) | positives | {lic[name]['license']} |")
    add(f"| `data/pools/oasst1_en_validation` ({lic['oasst1_en_validation']['source_repo']}) | `natural` positives | {lic['oasst1_en_validation']['license']} |")
    for pool in NEGATIVE_QUOTA:
        add(f"| `data/pools/{pool}` ({lic[pool]['source_repo']}) | negatives | {lic[pool]['license']} |")
    add("")
    add("The license files and notes are in each source folder under `data/evalsets/` and `data/pools/`.")
    add("AlpacaEval data is CC BY-NC 4.0 (non-commercial) and NQ-open is CC BY-SA 3.0 (share-alike): rows")
    add("from them carry those terms.")
    (OUT / "README.md").write_text("\n".join(L) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
