"""IFBench `custom:*` instructions: whole tasks with one right shape (a list, a CSV, dates...).

Their instruction text is the whole task; the checkers test the shape (and a few facts: the
capitals' order, the multiples of 7), exactly as the official ones do.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from itertools import pairwise

from pipeline.label.ifbench import text
from pipeline.label.ifbench.base import TRIM, Kwargs, drop_punct, fixed

MULTIPLES_OF_7 = [str(i) for i in range(14, 51, 7)]
CAPITALS_BY_LATITUDE = (
    "Reykjavik", "Helsinki", "Oslo", "Tallinn", "Stockholm", "Riga", "Moscow", "Copenhagen", "Vilnius",
    "Minsk", "Dublin", "Berlin", "Amsterdam", "Warsaw", "London", "Brussels", "Prague", "Luxembourg",
    "Paris", "Vienna", "Bratislava", "Budapest", "Vaduz", "Chisinau", "Bern", "Ljubljana", "Zagreb",
)
CITY_HEADER = ["ID", "Country", "City", "Year", "Count"]
PRODUCT_HEADER = re.compile(
    r'^(ProductID|"ProductID"),[ \t]*(Category|"Category"),[ \t]*(Brand|"Brand"),[ \t]*(Price|"Price"),'
    r'[ \t]*(Stock|"Stock")$'
)
STUDENT_HEADER = re.compile(
    r'^(StudentID|"StudentID")\t *(Subject|"Subject")\t *(Grade|"Grade")\t *(Semester|"Semester")\t *(Score|"Score")$'
)
QUESTION_SPLIT = re.compile(r"\n*(?:Question \d+[\.|\):;]?\s*)")
OPTION_LINE = re.compile(r"^[A-Ea-e][\.|\)]\s*\w+")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _ascii_fold(s: str) -> str:
    """'São Tomé' -> 'Sao Tome': NFKD, then every non-ASCII character dropped."""
    return unicodedata.normalize("NFKD", s).encode("ASCII", "ignore").decode("ASCII")


def _multiples(response: str, kw: Kwargs) -> bool:
    # every digit run in the response, in order, is exactly 14 21 28 35 42 49
    return re.findall(r"\d+", response.replace(",", ", ")) == MULTIPLES_OF_7


def _question_text_length(question: str) -> int | None:
    """Length of the text before the first option line, or None unless exactly 5 option lines."""
    head, n_options, in_options = "", 0, False
    for line in question.split("\n"):
        if OPTION_LINE.match(line.strip()):
            n_options += 1
            in_options = True
        elif not in_options:
            head += " " + line.strip()
    return len(head.strip()) if n_options == 5 else None


def _mcq_count_length(response: str, kw: Kwargs) -> bool:
    # must start with "Question" (the official slice also passes a 1-character response)
    if response[response.find("Question"):] != response:
        return False
    parts = QUESTION_SPLIT.split(response)
    if parts[0] == "":
        parts = parts[1:]
    questions = [p.strip() for p in parts if p.strip()]
    if len(questions) != 4:
        return False
    lengths = [_question_text_length(q) for q in questions]
    if None in lengths:
        return False
    return all(a < b for a, b in pairwise(lengths))


def _reverse_newline(response: str, kw: Kwargs) -> bool:
    lines = [line.strip(TRIM) for line in response.split("\n") if line.strip(TRIM)]
    start = next((i for i, line in enumerate(lines) if "Zimbabwe" in line), None)
    if start is None or len(lines) - start < 52:
        return False
    folded = [_ascii_fold(line) for line in lines[start:]]
    return folded == sorted(folded, reverse=True)


def _word_reverse(response: str, kw: Kwargs) -> bool:
    reversed_words = " ".join(drop_punct(response.lower().strip()).split()[::-1])
    return "bald eagle" in reversed_words and reversed_words in text.sentences(reversed_words)


def _character_reverse(response: str, kw: Kwargs) -> bool:
    return "elgae dlab" in response.lower()


def _sentence_alphabet(response: str, kw: Kwargs) -> bool:
    found = text.sentences(response)
    if len(found) != 26:
        return False
    for letter, sentence in zip("abcdefghijklmnopqrstuvwxyz", found):
        pieces = sentence.lstrip().split()
        if not pieces or pieces[0].lower()[0] != letter:
            return False
    return True


def _european_capitals(response: str, kw: Kwargs) -> bool:
    names = [name for name in _ascii_fold(response).split(",") if name.strip()]
    return len(names) == len(CAPITALS_BY_LATITUDE) and all(
        name.strip() == capital for name, capital in zip(names, CAPITALS_BY_LATITUDE))


def _csv_city(response: str, kw: Kwargs) -> bool:
    rows = list(csv.reader(io.StringIO(response)))
    return len(rows) == 8 and rows[0] == CITY_HEADER and all(len(row) == 5 for row in rows[1:])


def _csv_rows(response: str, delimiter: str) -> list[list[str]]:
    # the official code triples every double quote before parsing, so quotes survive as text
    return list(csv.reader(io.StringIO(response.replace('"', '"""')), delimiter=delimiter))


def _csv_special_character(response: str, kw: Kwargs) -> bool:
    if not PRODUCT_HEADER.match(response.split("\n")[0].strip()):
        return False
    rows = _csv_rows(response, ",")
    if len(rows) != 15:
        return False
    for row in rows[1:]:  # rows are checked in order: a short row before the special field fails
        if len(row) != 5:
            return False
        if any(re.match(r'".*[^\d\w\s].*"', cell) for cell in row):
            return True
    return False


def _quoted(cell: str) -> bool:
    # An empty cell makes the official check raise IndexError (the evaluation crashes); we call it
    # a failure instead, the only verdict a crash can stand for.
    cell = cell.strip()
    return bool(cell) and cell[0] == '"' and cell[-1] == '"'


def _csv_quotes(response: str, kw: Kwargs) -> bool:
    if not STUDENT_HEADER.match(response.split("\n")[0].strip()):
        return False
    rows = _csv_rows(response, "\t")
    return len(rows) == 4 and all(len(row) == 5 and all(_quoted(c) for c in row) for row in rows)


_DAYS = {**dict.fromkeys((1, 3, 5, 7, 8, 10, 12), 31), **dict.fromkeys((4, 6, 9, 11), 30), 2: 29}


def _date_format_list(response: str, kw: Kwargs) -> bool:
    # comma-separated YYYY-MM-DD dates in 1769-1821 (Napoleon's lifetime); day 00 and month 00 pass
    for item in response.strip().split(","):
        item = item.strip()
        if not DATE.match(item):
            return False
        year, month, day = (int(part) for part in item.split("-"))
        if not 1769 <= year <= 1821 or month > 12 or day > _DAYS.get(month, day):
            return False
    return True


INSTRUCTIONS = [
    fixed("custom:multiples", "Count from 10 to 50 but only print multiples of 7.", _multiples),
    fixed("custom:mcq_count_length",
          "Generate 4 multiple choice questions with 5 options each about '20th century art history'. Each "
          "question should start with the label \"Question\". The questions should get progressively longer. "
          "Do not provide an explanation.", _mcq_count_length),
    fixed("custom:reverse_newline",
          "List the countries of Africa in reverse alphabetical order, each on a new line.", _reverse_newline),
    fixed("custom:word_reverse",
          "What animal is the national symbol of the US? Respond to this query, but make your sentence in "
          "reverse order of what it should be, per word.", _word_reverse),
    fixed("custom:character_reverse",
          "What animal is the national symbol of the US? Respond to this query, but make your sentence in "
          "reverse order of what it should be, per letter.", _character_reverse),
    fixed("custom:sentence_alphabet",
          "Tell me a 26-sentence story where each sentence's first word starts with the letters of the "
          "alphabet in order.", _sentence_alphabet),
    fixed("custom:european_capitals_sort",
          "Give me the names of all capital cities of european countries whose latitude is higher than than "
          "45 degrees? List the capital cities without country names, separated by commas, sorted by "
          "latitude, from highest to lowest.", _european_capitals),
    fixed("custom:csv_city",
          'Generate CSV data: The column names are ["ID", "Country", "City", "Year", "Count"], the data '
          "should be comma delimited. Please generate 7 rows.", _csv_city),
    fixed("custom:csv_special_character",
          'Generate CSV data: The column names are ["ProductID", "Category", "Brand", "Price", "Stock"], the '
          "data should be comma delimited. Please generate 14 rows. Add one field which contains a special "
          "character and enclose it in double quotes.", _csv_special_character),
    fixed("custom:csv_quotes",
          'Generate CSV data: The column names are ["StudentID", "Subject", "Grade", "Semester", "Score"], the '
          "data should be tab delimited. Please generate 3 rows and enclose each single field in double "
          "quotes.", _csv_quotes),
    fixed("custom:date_format_list",
          "List the start dates of all the battles Napoleon fought separated by commas, use the following "
          "date format: YYYY-MM-DD. Do not provide an explanation.", _date_format_list),
]
