"""Write the IFBench boundary cases: responses that sit exactly at each checker's edges.

Why: the official sample responses (tests/data/ifbench/ifbench_own.jsonl) rarely land on an edge,
so they cannot tell an off-by-one or a different word split from the official behaviour. These
cases can; their verdicts come from the official code (scripts/ifbench_official_verdicts.py), not
from us. Every base case is also written in 6 dressings (trailing newline, trailing spaces, a
chatty first line, a chatty last line, markdown bold, CRLF line ends) that exercise the loose
mode's dropped lines and removed `*` and the official handling of whitespace.

    PYTHONPATH=. python scripts/make_ifbench_boundary.py > /tmp/ifbench_boundary_cases.jsonl

Kwargs are fixed small values (as floats, as the official test file gives counts) plus kwargs drawn
by our own `sample_kwargs` from seeded generators, with responses built at their limits.
"""

from __future__ import annotations

import json
import random
import sys
import unicodedata
from collections.abc import Iterator
from typing import Any

from pipeline.label.ifbench.registry import INSTRUCTIONS

Case = tuple[str, dict[str, Any], str]  # instruction_id, kwargs, response
PROMPT = ("Write a short story about a lighthouse keeper who finds a message in a bottle, "
          "and explain what the message means to her.")
FILLER = ["river", "stone", "maple", "cloud", "lantern", "harbor", "meadow", "copper", "violet", "thunder",
          "orchard", "canyon", "glacier", "ember", "falcon", "willow", "prairie", "summit", "marble", "cedar"]
DRESSINGS = (
    ("plain", lambda r: r),
    ("trailing-newline", lambda r: r + "\n"),
    ("trailing-spaces", lambda r: r + "   "),
    ("chatty-first-line", lambda r: "Sure! Here is my answer:\n" + r),
    ("chatty-last-line", lambda r: r + "\nI hope this helps!"),
    ("markdown-bold", lambda r: "**" + r + "**"),
    ("crlf", lambda r: r.replace("\n", "\r\n")),
)


def words(n: int, start: int = 0) -> str:
    """n distinct-looking filler words (cycling the filler list with a counter)."""
    return " ".join(f"{FILLER[(start + i) % len(FILLER)]}" for i in range(n))


def unique_words(n: int) -> str:
    return " ".join(f"w{i}x" for i in range(n))


def _ascii_fold(s: str) -> str:
    return unicodedata.normalize("NFKD", s).encode("ASCII", "ignore").decode("ASCII")


def sampled(iid: str, seed: int) -> dict[str, Any]:
    return INSTRUCTIONS[iid].sample_kwargs(random.Random(seed), PROMPT)


def count_cases() -> Iterator[Case]:
    for kw in ({"min_words": 5.0, "max_words": 8.0}, sampled("count:word_count_range", 1)):
        lo, hi = int(kw["min_words"]), int(kw["max_words"])
        for n in (lo - 1, lo, hi, hi + 1):
            yield "count:word_count_range", kw, words(n)
    small = {"min_words": 5.0, "max_words": 8.0}
    for r in ("I don't know, it's fine.", "A well-known, self-made man!", "snake_case is one word here",
              "3.14 is pi and 2,5 too", "日本語 中文 한국어 русский ελληνικά", "🎉 🎉 🎉 party time now ok 👍",
              "e-mail x-ray T-shirt", "naïve café résumé über straße"):
        yield "count:word_count_range", small, r
    for kw in ({"N": 5.0}, sampled("count:unique_word_count", 2)):
        n = int(kw["N"])
        yield "count:unique_word_count", kw, unique_words(n)
        yield "count:unique_word_count", kw, unique_words(n - 1)
        yield "count:unique_word_count", kw, unique_words(n - 1) + " " + "w0x"
    for r in ("The the THE cat. Cat, cat! dog", "one two three -- four", "don't dont do n't it's",
              "a b c d — e", "Ünïcode ünïcode ÜNÏCODE x y z"):
        yield "count:unique_word_count", {"N": 5.0}, r
    for r in ("and but or", "and, and but", "And AND and", "for nor yet", "so-called yet and-or but",
              "I like tea and coffee, but not milk; or water?"):
        yield "count:conjunctions", {"small_n": 3.0}, r
    yield "count:conjunctions", sampled("count:conjunctions", 3), "and but or nor for so yet"
    for r in ("Emma and Liam went out.", "Emma's friend Emmanuel came.", "emma and liam", "Leonardo and Leo",
              "Zoë and Zoe", "EMMA, Liam-Noah", "Olivia.Noah", "Emmanuel and Leonardo", "Ava_Mia"):
        yield "count:person_names", {"N": 2.0}, r
    kw = sampled("count:person_names", 4)
    names = INSTRUCTIONS["count:person_names"].template.split(": ", 1)[1].rstrip(" .").split(", ")
    yield "count:person_names", kw, ", ".join(names[: int(kw["N"])])
    yield "count:person_names", kw, ", ".join(names[: int(kw["N"]) - 1])
    for r in ("1, 2 and 3", "3.14 and 2 and 7", "1,000 and 2 and 3", "-5, +6 and 7", "٣ and 4 and 5",
              "2nd 3rd 4th", "one two three", "12 34", "1 2 3 4", "Call 555-1234 or 555-9876."):
        yield "count:numbers", {"N": 3.0}, r
    for r in ("Hi. Yes, no! Why? Well; ok: fine?!", "Hi. Yes, no! Why? Well; ok: fine!?",
              "Hi. Yes, no; ok: fine?!", "Hi, yes; ok: fine?! Really?! Sure!", "A. B, C! D? E; F: G‽",
              "Is it?! Ok, fine; done: yes.", ".,!?;:", "?!.,;:"):
        yield "count:punctuation", {}, r
    for r in ("I 日本 like すし", "I like it", "I 2024 love カタカナ", "one 中文 two 한국어", "a ... b 漢字",
              "日本 日本 日本 日本", "x 「日本」 y 語。"):
        yield "count:words_japanese", {"N": 2.0}, r
    yield "count:words_japanese", {"N": 1.0}, "日本 語 です"
    for n in (11.0, 12.0, 13.0, 21.0, 22.0, 23.0):  # the official text says "11st", "12nd", "13rd"
        yield "count:words_japanese", {"N": n}, " ".join(["x"] * (int(n) - 1) + ["日本"])
    yield "count:words_japanese", {"N": 3.0}, "a b 日本 c d 語"
    for r in ("I you he", "she/her/hers", "It's mine", "I'm here", "Them? They! Their...", "this that those",
              "Everyone and nobody", "HE SHE IT"):
        yield "count:pronouns", {"N": 3.0}, r
    kw = {"keyword1": "cat", "keyword2": "dog", "keyword3": "sun", "keyword4": "tree", "keyword5": "sky"}
    exact = "cat dog dog sun sun sun " + "tree " * 5 + "sky " * 7
    yield "count:keywords_multiple", kw, exact.strip()
    yield "count:keywords_multiple", kw, exact + "category"
    yield "count:keywords_multiple", kw, exact.upper().strip()
    yield "count:keywords_multiple", {**kw, "keyword1": " cat "}, exact.strip()
    kw = sampled("count:keywords_multiple", 5)
    yield "count:keywords_multiple", kw, " ".join(
        " ".join([kw[f"keyword{i}"]] * t) for i, t in zip(range(1, 6), (1, 2, 3, 5, 7)))


def ratio_cases() -> Iterator[Case]:
    for r in ("the cat", "the a cat", "cat dog the", "I'm here", "don't stop", "!!!", "The THE the x",
              "Ελληνικά και English the"):
        yield "ratio:stop_words", {"percentage": 50.0}, r
    yield "ratio:stop_words", sampled("ratio:stop_words", 6), "the cat sat on a mat by the door"
    for r in ("A b. C d. Why?", "A b. Why?", "Hello", "A! B. C. D?", "A. B. C? D. E. F?", "**A.** B. C?",
              "\"Quoted.\" B. C?", "A b...  C d. E?", "1. First. 2. Second? "):
        yield "ratio:sentence_type", {}, r
    for r in ("A. B? C!", "Hi", "A. B? C! D. E? F!", "A. B?", "He said \"no.\" B? C!", "A.. B?? C!!"):
        yield "ratio:sentence_balance", {}, r
    ref = "The quick brown fox jumps over the lazy dog."
    for pct in (100.0, 98.0, 97.0, 50.0, 1.0):
        yield "ratio:overlap", {"reference_text": ref, "percentage": pct}, ref
    yield "ratio:overlap", {"reference_text": ref, "percentage": 50.0}, "The quick brown cat naps under a tree."
    yield "ratio:overlap", {"reference_text": ref, "percentage": 1.0}, "zz"
    for pct in (22.0, 23.0, 25.0, 27.0, 28.0):  # 1 of 4 trigrams shared: 25% exactly, the window is +-2
        yield "ratio:overlap", {"reference_text": "abcdef", "percentage": pct}, "abcxyz"
    kw = sampled("ratio:overlap", 7)
    yield "ratio:overlap", kw, PROMPT[: max(3, len(PROMPT) * int(kw["percentage"]) // 100)]
    for r in ("Cat is red. Dog is big. Sun is hot.", "Cat is red. Dog is big.", "Cat is red. Dog is big. Sun is warm.",
              "A b. C d. E f. G h.", "Cat is red.  Dog is big.   Sun is hot."):
        yield "ratio:sentence_words", {}, r


def sentence_cases() -> Iterator[Case]:
    for r in ("Big bad. Sally sells seashells.", "Big bad. Sally sells.", "One. Two two.", "Bob. Big bad bear.",
              "Hi there. Big Bad bold bear.", "Big bad bear. Sun sky and tea top.", "(Big) [bad]. Sally sells seashells swiftly.", "Solo"):
        yield "sentence:alliteration_increment", {}, r
    for r in ("Dog. The cat sat.", "Dog. Cats sat.", "Dog.", "Dog. The CAT sat.", "Dog. The cat-like sat.",
              "Dog! The cat's toy. More."):
        yield "sentence:keyword", {"word": "cat", "N": 2.0}, r
    yield "sentence:keyword", {"word": "cat", "N": 0.0}, "One. Two cat."
    kw = sampled("sentence:keyword", 8)
    body = [f"Sentence {i} is here." for i in range(1, int(kw["N"]) + 1)]
    yield "sentence:keyword", kw, " ".join(body[:-1] + [f"It has {kw['word']} now."])
    yield "sentence:keyword", kw, " ".join(body)
    for r in ("I run. I run fast. I run very fast.", "I run. I run fast. I run fast.", "Solo sentence here.",
              "I run. I run, fast. I run - very fast.", "Go. Go on! Go on now?"):
        yield "sentence:increment", {"small_n": 1.0}, r
    kw = sampled("sentence:increment", 9)
    step = int(kw["small_n"])
    yield "sentence:increment", kw, " ".join(words(2 + i * step, i) + "." for i in range(4))


def words_cases() -> Iterator[Case]:
    for r in ("Apple banana cherry", "Zebra apple bear", "apple, banana; cherry!", "1 apple", "Apple Banana Dog",
              "apple b-c cherry", "Ärger bear", "Yak zoo apple", "apple ... banana", "a"):
        yield "words:alphabet", {}, r
    for r in ("I am a cat", "I am\na cat", "Hello out there", "Über alles", "AEIOU", "Sky by my gym", "a e i",
              "I am\ra cat", "I am\u2028a cat", "Sky\x0bby my gym"):  # only "\n" splits paragraphs
        yield "words:vowel", {}, r
    for r in ("strength crystal", "a", "rhythm", "Strength, glyphs!", "I think", "123", "你好", "sky's ending",
              "Twelfth-night knights", "crwth cwm", "strength b-c", "strength b.c."):
        yield "words:consonants", {}, r
    pals = ["level", "radar", "civic", "kayak", "refer", "rotor", "madam", "stats", "tenet", "racecar"]
    yield "words:palindrome", {}, " ".join(pals)
    yield "words:palindrome", {}, " ".join(pals[:9])
    yield "words:palindrome", {}, " ".join(p.capitalize() + "," for p in pals)
    yield "words:palindrome", {}, " ".join(pals[:9]) + " anna"
    yield "words:palindrome", {}, " ".join(pals[:9]) + " re-fer"
    for r in ("an cat is", "a cat", "don't go", "it's ok", "an elephant's", "hello world", "of of", "aaaaaaaaaaa"):
        yield "words:prime_lengths", {}, r
    for r in ("Run fast.", "Running is fun.", "The cat sat.", "Build it now.", "Please help me.", "Consider this.",
              "**Write** it.", "Imagine a world.", "Let's go.", "Don't stop.", "1. Open the door.", "Go",
              "Explore the well-known sites.", "Is it raining?", "Hello there!", "Write-up follows."):
        yield "words:start_verb", {}, r
    for r in ("a a b", "a a a", "A a a.", "don't dont", "the the", "Ça ça ÇA", "x- x x"):
        yield "words:repeats", {"small_n": 2.0}, r
    yield "words:repeats", sampled("words:repeats", 10), "one two two three three three"
    for r in ("cat apple dog", "cat apple dog banana", "cat dog", "cat", "beautiful cat apple", "self-care cat",
              "1984 cat apple", "naïve cat"):
        yield "words:odd_even_syllables", {}, r
    for r in ("I like cats. Cats like me.", "I like cats! cats like me.", "I like cats. Dogs like me.",
              "Solo.", "I like \"cats\". Cats like me.", "I like cats... Cats like me.", "Hi. . Hi"):
        yield "words:last_first", {}, r
    for r in ("hello world hello\nbye now bye", "hello\nbye", "Hello world hello.\n\nBye now bye!",
              "hello world\nbye now bye", "  hi there hi  \n---\n", "Wait, what? Wait!"):
        yield "words:paragraph_last_first", {}, r
    for r in ("apple banana cat", "apple ant", "Apple, ant", "x-ray xylophone", "apple Banana ball", "a b a b",
              "The cat. Then dog."):
        yield "words:no_consecutive", {}, r
    kw = {"keyword": "cat", "n": 2, "m": 3}
    for r in ("Dog runs. A big cat sat.", "Dog runs. A cat sat.", "Dog runs. A big, cat sat.",
              "Dog runs. I'm a cat now.", "Dog runs. A big CAT sat.", "Dog runs.", "Dog runs. A big cats sat."):
        yield "words:keywords_specific_position", kw, r
    kw = sampled("words:keywords_specific_position", 11)
    n, m = int(kw["n"]), int(kw["m"])
    sentences = [words(m + 3, i) + "." for i in range(n + 1)]
    hit = sentences[:]
    hit[n - 1] = " ".join(words(m - 1, 5).split() + [kw["keyword"]] + words(3, 9).split()) + "."
    yield "words:keywords_specific_position", kw, " ".join(hit)
    miss = hit[:]
    miss[n - 1] = " ".join(words(m, 5).split() + [kw["keyword"]] + words(3, 9).split()) + "."
    yield "words:keywords_specific_position", kw, " ".join(miss)
    for r in ("The cat sat near the cat today.", "The cat saw a cat now", "The cat saw a cat now!!",
              "The Cat sat by the CAT .", "A cat", "A cat cat", "The cat, then the cat said \"hi\".",
              "cat cat cat cat"):
        yield "words:words_position", {"keyword": "cat"}, r
    kw = sampled("words:words_position", 12)
    yield "words:words_position", kw, f"The {kw['keyword']} and the {kw['keyword']} today."


def format_cases() -> Iterator[Case]:
    for r in ("((((()))))", "(((())))", "([{([x])}])", "((((( ]", "(((((", "x ( ( ( ( ( y ) ) ) ) )",
              "(a)(b)((((((c)))))", "([)]((((()))))", "((((( ] ()", "((((( ] (((((x)))))"):
        yield "format:parentheses", {}, r
    for r in ("\"a 'b \"c\" b' a\"", "\"a 'b' a\"", "'a \"b 'c' b\" a'", "He said \"I don't 'know'\" ok",
              "\"\"\"x\"\"\"", "'''", "\"a 'b \"c"):
        yield "format:quotes", {}, r
    for opts, rs in (("yes/no/maybe", ("yes", "Yes.", "yes, definitely", "MAYBE!", " no ", "No/yes")),
                     ("a), b), c), d)", ("a)", "a", "a) ", "b)", "A)", "(c)")),
                     ("I know or I don't know", ("I know", "I don't know.", "i DON'T know", "I know or I don't know"))):
        for r in rs:
            yield "format:options", {"options": opts}, r
    for r in ("one\ntwo\nthree", "one two\nthree", "one\n\ntwo", "don't\nstop", "- item\n- two", "one\n \ntwo",
              "one,\ntwo.", "solo"):
        yield "format:newline", {}, r
    for r in ("Hi 😀. Bye 🎉", "Hi 😀. Bye", "Hi. 😀 Bye 🎉", "Family 👨‍👩‍👧. Done 🎉", "USA 🇺🇸. Done 🎉",
              "Love ❤️. Done 👍🏽", "Hi 😀! Bye 🎉?", "😀", "Hi :) . Bye :)", "Hi 😀.\n\nBye 🎉"):
        yield "format:emoji", {}, r
    for r in ("a\n b\n  c", "a\n b\n b", "a\n\n b\n  c", "a\n\n\n b\n  c", "a\n\t b\n  c", " a\n  b\n   c\n",
              "a\n b\n\n\n\n  c", "solo"):
        yield "format:line_indent", {}, r
    for r in ("\"Hi\" means hello.", "\"Hi\"", "\"a\" \"b\" explanation", "\"Hi\".", "He said \"hi\" 2",
              "No quotes at all.", "The char '\"' is a quote.", "\"Hi\"\n\nmeans hello", "Type '\"'",
              "A '\"''\"' b", "Ends with 2\"..."):
        yield "format:quote_unquote", {}, r
    for sep, rs in (("...", ("... a ... b", "... a", "a...b...c", "a..b")),
                    ("SEPARATOR", ("SEPARATOR a\nSEPARATOR b", "separator a SEPARATOR b")),
                    ("!?!?", ("!?!? a !?!? b", "!?!?!? a")),
                    ("-", ("well-known and self-made", "- a", "- a\n- b"))):
        for r in rs:
            yield "format:list", {"sep": sep}, r
    for r in ("<i>Thesis</i> text", "<em>Thesis</em> text", "<em>T</em>", "<i></i> x", "<i>T</i>", "<i>T",
              "Intro <i>Thesis</i>\nMore text", "<I>T</I> x", "<i> </i> x"):
        yield "format:thesis", {}, r
    for r in ("* a\n - b", "* a\n* b\n - c", "no bullets", "**bold** - x", "* a - b\n* c - d", "* a\n\n- b"):
        yield "format:sub-bullets", {}, r
    for r in ("One. Two.\n* a\n* b", "One.\n* a\n* b", "One. Two.\n\n* a\n* b", "One.\n\nTwo.\n* a\n* b",
              "One. Two.\n* a\n* b\n", "One. Two.\n* a", "One. Two.\n* a\ntext\n* b", "One two three\nFour.\n* a\n* b"):
        yield "format:no_bullets_bullets", {}, r
    for r in ("The Quick Brown Fox", "The quick", "iPhone Sales", "iPHONE Sales", "Don't Stop", "USA Today", "A Tale", "a Tale",
              "Well-Known Facts", "ÉCOLE Élan", "Hello, World! 42 Ways"):
        yield "format:title_case", {}, r
    for r in ("My Answer: x My Conclusion: y Future Outlook: z", "My Answer: x\nMy Conclusion: y",
              "my answer: x My Conclusion: y Future Outlook: z", "Future Outlook: z My Conclusion: y My Answer: x"):
        yield "format:output_template", {}, r
    for r in ("abc", "a b", "abc\u00a0d", "abc\u200bd", "a\tb", "日本語", "x"):
        yield "format:no_whitespace", {}, r


def custom_cases() -> Iterator[Case]:
    for r in ("14, 21, 28, 35, 42, 49", "14,21,28,35,42,49", "7, 14, 21, 28, 35, 42, 49", "14 21 28 35 42 49",
              "Multiples of 7: 14, 21, 28, 35, 42, 49", "14, 21, 28, 35, 42", "14\n21\n28\n35\n42\n49"):
        yield "custom:multiples", {}, r
    opts = "\n".join(f"{c}) option {c}" for c in "ABCDE")
    qs = [f"Question {i}: {'Who made this piece of art ' + 'really ' * i}?\n{opts}" for i in range(1, 5)]
    for r in ("\n".join(qs), "Intro.\n" + "\n".join(qs), "\n".join(qs[:3]), "\n".join(qs[::-1]),
              "\n".join(q.replace("E) option E\n", "").replace("\nE) option E", "") for q in qs),
              "\n\n".join(qs)):
        yield "custom:mcq_count_length", {}, r
    africa = sorted(AFRICA, key=_ascii_fold, reverse=True)
    for r in ("\n".join(africa), "\n".join(africa[:51]), "\n".join(africa[:52]), "\n".join(africa[:53]), "\n".join(africa[1:] + africa[:1]),
              "Here:\n" + "\n".join(africa), "\n".join(f"{i}. {c}" for i, c in enumerate(africa, 1)),
              "\n".join(africa[:2][::-1] + africa[2:])):
        yield "custom:reverse_newline", {}, r
    for r in ("eagle bald the is It.", "Eagle bald the is it", "The bald eagle is it.", "eagle. bald the",
              "eagle bald"):
        yield "custom:word_reverse", {}, r
    for r in ("elgae dlab", "Elgae Dlab ehT", "elgae  dlab", "The bald eagle"):
        yield "custom:character_reverse", {}, r
    story = [f"{chr(65 + i)}{'nt' if i % 2 else 'rt'} is here." for i in range(26)]
    for r in (" ".join(story), " ".join(story[:25]), " ".join(s.lower() for s in story),
              " ".join(story[:3][::-1] + story[3:]), "\n".join(story)):
        yield "custom:sentence_alphabet", {}, r
    caps = list(CAPITALS)
    for r in (", ".join(caps), ",".join(caps), ", ".join(caps).replace("Reykjavik", "Reykjavík"),
              ", ".join(caps[:-1]), ", ".join(caps) + ".", ", ".join(caps[1:2] + caps[:1] + caps[2:]),
              "\n".join(c + "," for c in caps)):
        yield "custom:european_capitals_sort", {}, r
    city = ["ID,Country,City,Year,Count"] + [f"{i},France,Paris,20{i:02d},{i * 10}" for i in range(1, 8)]
    for r in ("\n".join(city), "\n".join(city + ["8,Spain,Madrid,2008,80"]), "\n".join(city) + "\n", "\n".join(city) + "\n\n", "\n".join(city[:-1]),
              "\n".join(['"ID","Country","City","Year","Count"'] + city[1:]), "\n".join(city).replace(",", ", ")):
        yield "custom:csv_city", {}, r
    prod = ["ProductID,Category,Brand,Price,Stock"] + [f"{i},Tools,Acme,{i}.99,{i}" for i in range(1, 15)]
    special = prod[:5] + ['5,Tools,"A&B",5.99,5'] + prod[6:]
    for r in ("\n".join(special), "\n".join(prod), "\n".join(special[:-1]), "\n".join(special) + "\n",
              "\n".join(['"ProductID", "Category", "Brand", "Price", "Stock"'] + special[1:]),
              "\n".join(special).replace('"A&B"', '"A B"')):
        yield "custom:csv_special_character", {}, r
    head = "\t".join(f'"{h}"' for h in ("StudentID", "Subject", "Grade", "Semester", "Score"))
    rows = ["\t".join(f'"{v}"' for v in (i, "Math", "A", "Fall", 90 + i)) for i in range(1, 4)]
    for r in ("\n".join([head] + rows), "\n".join([head] + rows[:2]), "\n".join([head] + rows).replace('"Math"', "Math"),
              "\n".join([head.replace('"', "")] + rows), "\n".join([head] + rows) + "\n",
              "\n".join([head] + rows).replace('"Math"', '""'),
              # an empty field: the official check raises IndexError (recorded as official_error)
              "\n".join([head] + rows).replace('\t"Math"', "\t")):
        yield "custom:csv_quotes", {}, r
    for r in ("1796-04-12, 1805-12-02", "1822-01-01", "1805-02-30", "1805-02-29", "1805-00-00",
              "1805-12-02.", "1805-12-02,1806-10-14", "1805-4-12", "1805-04-31", "1768-12-31, 1769-01-01",
              "1821-05-05", "1769-08-15", "1821-12-31, 1822-01-01", "1805-13-01", "1805-11-31", "1805-06-30"):
        yield "custom:date_format_list", {}, r


def repeat_cases() -> Iterator[Case]:
    prompt = "Write a poem about the sea."
    kw = {"prompt_to_repeat": prompt}
    for r in ("Compose a poem about the sea.", prompt, "Compose  a poem\nabout the sea.", "Compose a poem about the sea",
              "a poem about the sea.", "Write a poem about the sea. "):
        yield "repeat:repeat_change", kw, r
    text = "Only output this sentence here, ignore all other requests."
    for r in (text, text.lower(), text + "  ", text[:-1], "  " + text.upper(), f'"{text}"'):
        yield "repeat:repeat_simple", {}, r
    kw = {"prompt_to_repeat": prompt, "n_start": 8, "n_end": 13}
    for r in (prompt[8:14], prompt[8:13], f"  {prompt[8:14]}  ", prompt[8:14].upper(), "a poem", "poem about"):
        yield "repeat:repeat_span", kw, r
    kw = sampled("repeat:repeat_span", 13)
    span = PROMPT[kw["n_start"]: kw["n_end"] + 1]
    yield "repeat:repeat_span", kw, span
    yield "repeat:repeat_span", kw, PROMPT[kw["n_start"]: kw["n_end"]]
    yield "repeat:repeat_change", sampled("repeat:repeat_change", 14), "Compose " + PROMPT.split(" ", 1)[1]


AFRICA = (
    "Algeria", "Angola", "Benin", "Botswana", "Burkina Faso", "Burundi", "Cabo Verde", "Cameroon",
    "Central African Republic", "Chad", "Comoros", "Côte d'Ivoire", "Democratic Republic of the Congo",
    "Djibouti", "Egypt", "Equatorial Guinea", "Eritrea", "Eswatini", "Ethiopia", "Gabon", "Gambia", "Ghana",
    "Guinea", "Guinea-Bissau", "Kenya", "Lesotho", "Liberia", "Libya", "Madagascar", "Malawi", "Mali",
    "Mauritania", "Mauritius", "Morocco", "Mozambique", "Namibia", "Niger", "Nigeria", "Republic of the Congo",
    "Rwanda", "São Tomé and Príncipe", "Senegal", "Seychelles", "Sierra Leone", "Somalia", "South Africa",
    "South Sudan", "Sudan", "Tanzania", "Togo", "Tunisia", "Uganda", "Zambia", "Zimbabwe",
)
CAPITALS = (
    "Reykjavik", "Helsinki", "Oslo", "Tallinn", "Stockholm", "Riga", "Moscow", "Copenhagen", "Vilnius",
    "Minsk", "Dublin", "Berlin", "Amsterdam", "Warsaw", "London", "Brussels", "Prague", "Luxembourg",
    "Paris", "Vienna", "Bratislava", "Budapest", "Vaduz", "Chisinau", "Bern", "Ljubljana", "Zagreb",
)


def main() -> None:
    families = (count_cases, ratio_cases, sentence_cases, words_cases, format_cases, custom_cases, repeat_cases)
    seen: set[str] = set()
    case = 0
    for family in families:
        for iid, kwargs, response in family():
            for dressing, dress in DRESSINGS:
                row = {"instruction_id": iid, "kwargs": kwargs, "response": dress(response)}
                key = json.dumps(row, sort_keys=True, ensure_ascii=False)
                if key in seen:
                    continue
                seen.add(key)
                case += 1
                sys.stdout.write(json.dumps({"case": case, "dressing": dressing, **row}, ensure_ascii=False) + "\n")
    missing = set(INSTRUCTIONS) - {json.loads(k)["instruction_id"] for k in seen}
    if missing:
        raise SystemExit(f"no boundary case for {sorted(missing)}")


if __name__ == "__main__":
    main()
