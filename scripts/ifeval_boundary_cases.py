"""Boundary cases for the 25 IFEval instructions: responses written for this project, edited to sit
exactly at each boundary (counts at the limit and one over, whitespace, markdown, scripts, emoji,
contractions, hyphens, markers). `cases()` returns (instruction_id, kwargs, response, note) rows;
`make_ifeval_boundary.py` runs the official code on them. No verdict is written here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Case = tuple[str, dict[str, Any], str, str]

# One sentence per language of IFEval's response_language list ("the weather is fine; this afternoon
# we take the children for a walk in the park").
LANGUAGE_TEXT = {
    "ar": "الطقس جميل اليوم، وسنذهب إلى الحديقة في فترة ما بعد الظهر لنلعب مع الأطفال ونستمتع بالشمس.",
    "bg": "Времето днес е много хубаво и следобед ще отидем в парка да се разходим с децата.",
    "bn": "আজ আবহাওয়া খুব সুন্দর, তাই আমরা বিকেলে পার্কে হাঁটতে যাব এবং বাচ্চাদের সাথে খেলব।",
    "de": "Das Wetter ist heute sehr schön, und wir gehen am Nachmittag mit den Kindern in den Park spazieren.",
    "fa": "هوا امروز بسیار خوب است و ما بعد از ظهر با بچه‌ها به پارک می‌رویم تا قدم بزنیم.",
    "fi": "Tänään sää on todella kaunis, joten menemme iltapäivällä lasten kanssa puistoon kävelylle.",
    "gu": "આજે હવામાન ખૂબ સરસ છે, તેથી અમે બપોરે બાળકો સાથે બગીચામાં ફરવા જઈશું.",
    "hi": "आज मौसम बहुत अच्छा है, इसलिए हम दोपहर में बच्चों के साथ पार्क में घूमने जाएंगे।",
    "it": "Oggi il tempo è molto bello, quindi nel pomeriggio andremo al parco a passeggiare con i bambini.",
    "kn": "ಇಂದು ಹವಾಮಾನ ತುಂಬಾ ಚೆನ್ನಾಗಿದೆ, ಆದ್ದರಿಂದ ನಾವು ಮಧ್ಯಾಹ್ನ ಮಕ್ಕಳೊಂದಿಗೆ ಉದ್ಯಾನವನಕ್ಕೆ ಹೋಗುತ್ತೇವೆ.",
    "ko": "오늘은 날씨가 정말 좋아서 오후에 아이들과 함께 공원에 산책하러 갈 거예요.",
    "mr": "आज हवामान खूप छान आहे, म्हणून आम्ही दुपारी मुलांसोबत बागेत फिरायला जाणार आहोत.",
    "ne": "आज मौसम धेरै राम्रो छ, त्यसैले हामी दिउँसो बच्चाहरूसँग पार्कमा घुम्न जानेछौं।",
    "pa": "ਅੱਜ ਮੌਸਮ ਬਹੁਤ ਵਧੀਆ ਹੈ, ਇਸ ਲਈ ਅਸੀਂ ਦੁਪਹਿਰ ਨੂੰ ਬੱਚਿਆਂ ਨਾਲ ਪਾਰਕ ਵਿੱਚ ਘੁੰਮਣ ਜਾਵਾਂਗੇ।",
    "pt": "O tempo hoje está muito bonito, por isso à tarde vamos passear no parque com as crianças.",
    "ru": "Сегодня погода очень хорошая, поэтому днём мы пойдём гулять в парк вместе с детьми.",
    "sw": "Leo hali ya hewa ni nzuri sana, kwa hivyo mchana tutaenda kutembea bustanini pamoja na watoto.",
    "ta": "இன்று வானிலை மிகவும் நன்றாக உள்ளது, எனவே மதியம் குழந்தைகளுடன் பூங்காவிற்கு நடக்கச் செல்வோம்.",
    "te": "ఈ రోజు వాతావరణం చాలా బాగుంది, కాబట్టి మధ్యాహ్నం పిల్లలతో కలిసి పార్కుకు నడకకు వెళ్తాము.",
    "th": "วันนี้อากาศดีมาก ดังนั้นตอนบ่ายเราจะพาเด็กๆ ไปเดินเล่นที่สวนสาธารณะ",
    "ur": "آج موسم بہت اچھا ہے، اس لیے ہم دوپہر کو بچوں کے ساتھ پارک میں سیر کرنے جائیں گے۔",
    "vi": "Hôm nay thời tiết rất đẹp, vì vậy buổi chiều chúng tôi sẽ đưa các con đi dạo trong công viên.",
    "ja": "今日はとても天気が良いので、午後は子供たちと一緒に公園へ散歩に行きます。",
    "uk": "Сьогодні дуже гарна погода, тому вдень ми підемо гуляти в парк разом з дітьми.",
    "he": "היום מזג האוויר יפה מאוד, ולכן אחר הצהריים נלך לטייל בפארק עם הילדים.",
    "ml": "ഇന്ന് കാലാവസ്ഥ വളരെ നല്ലതാണ്, അതിനാൽ ഉച്ചകഴിഞ്ഞ് ഞങ്ങൾ കുട്ടികളോടൊപ്പം പാർക്കിൽ നടക്കാൻ പോകും.",
    "pl": "Dziś pogoda jest bardzo ładna, więc po południu pójdziemy z dziećmi na spacer do parku.",
    "es": "Hoy hace muy buen tiempo, así que por la tarde iremos a pasear al parque con los niños.",
    "fr": "Il fait très beau aujourd'hui, alors cet après-midi nous irons nous promener au parc avec les enfants.",
    "en": "The weather is lovely today, so this afternoon we will take the children for a walk in the park.",
}
# Pairs easy to confuse: same script, close languages.
NEIGHBOURS = {"mr": "hi", "ne": "hi", "hi": "mr", "ur": "fa", "fa": "ar", "bg": "ru", "uk": "ru", "ru": "bg",
              "pt": "es", "it": "es", "sw": "en", "fi": "de"}  # fmt: skip


def _language() -> Iterator[Case]:
    lid = "language:response_language"
    for code, text in LANGUAGE_TEXT.items():
        yield lid, {"language": code}, text, f"{code} sentence"
        yield lid, {"language": code}, f"{text}\n\n{text}  \n", f"{code} twice, trailing whitespace"
        yield lid, {"language": code}, f"## {text}\n\n* {text}", f"{code} under markdown"
        yield lid, {"language": code}, f"Sure! Here is my answer:\n{text}", f"{code} after an English first line"
        yield lid, {"language": code}, text.split()[0], f"{code} one word"
    for code, other in NEIGHBOURS.items():
        yield lid, {"language": code}, LANGUAGE_TEXT[other], f"{other} text asked as {code}"
    for code in ("de", "ja", "hi"):
        yield lid, {"language": code}, "🙂🎉👍", "emoji only: no language features"
        yield lid, {"language": code}, "12345 67890", "digits only"


def _counts() -> Iterator[Case]:
    words = " ".join(f"word{i}" for i in range(1, 51))
    for rel in ("less than", "at least"):
        for n in (49, 50, 51):
            yield "length_constraints:number_words", {"num_words": n, "relation": rel}, words, f"50 words, {rel} {n}"
    nw = {"num_words": 5, "relation": "less than"}
    yield "length_constraints:number_words", nw, "Don't stop, it's well-known.", "contractions and a hyphen split"
    yield "length_constraints:number_words", nw, "东京是日本的首都，也是最大的城市。", "Chinese: no spaces"
    yield "length_constraints:number_words", nw, "Pi is 3.14 🥧🥧🥧 snake_case_word", "decimal, emoji, underscore"
    yield "length_constraints:number_words", nw, "**One** _two_ `three` — four\n\n\n", "markdown, trailing newlines"
    yield "length_constraints:number_words", {"num_words": 100000, "relation": "less than"}, words, "large N"
    yield "length_constraints:number_words", {"num_words": 100000, "relation": "at least"}, words, "large N, at least"
    sents = "I went home. It was late! Did you call? Dr. Smith paid $3.50. He left."
    for rel in ("less than", "at least"):
        for n in (4, 5, 6):
            yield "length_constraints:number_sentences", {"num_sentences": n, "relation": rel}, sents, f"5 sentences {rel} {n}"
    ns = {"num_sentences": 2, "relation": "less than"}
    yield "length_constraints:number_sentences", ns, "Wait... what? No way", "ellipsis, no final stop"
    yield "length_constraints:number_sentences", ns, "See e.g. the U.S. report, p. 4.", "abbreviations"
    yield "length_constraints:number_sentences", ns, "- first item\n- second item\n- third item\n", "bullets without stops"
    yield "length_constraints:number_sentences", ns, "これは文です。これも文です。", "Japanese full stops"
    yield "length_constraints:number_sentences", ns, "Hi!\n\n\n", "one sentence, trailing newlines"
    yield "length_constraints:number_sentences", {"num_sentences": 500, "relation": "less than"}, sents, "large N"


def _keywords() -> Iterator[Case]:
    text = "Balance and the future of a well-known town, whose sunlight and LIGHT shaped life; don't stop."
    for kws in (["balance"], ["balance", "future"], ["balance", "future", "town", "life", "stop", "sunlight"],
                ["balance", "future", "town", "life", "stop", "sunlight", "moon"], ["well-known"], ["light"],
                ["don't"], ["BALANCE"], ["lig"], ["東京"], ["U.S."]):  # fmt: skip
        yield "keywords:existence", {"keywords": kws}, text, f"{len(kws)} keywords {kws[-1]}"
    yield "keywords:existence", {"keywords": ["東京"]}, "私は東京に住んでいます。", "Japanese keyword present"
    yield "keywords:existence", {"keywords": ["U.S."]}, "The US economy.", "regex dot matches a space"
    for rel in ("less than", "at least"):
        for n in (2, 3, 4):
            yield "keywords:frequency", {"keyword": "light", "frequency": n, "relation": rel}, text + " Light!", f"light x3 {rel} {n}"
    yield "keywords:frequency", {"keyword": "don't", "frequency": 1, "relation": "at least"}, "I do not. Don’t!", "curly apostrophe"
    yield "keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "at least"}, "A cat in a category.", "substring"
    yield "keywords:frequency", {"keyword": "cat", "frequency": 1000, "relation": "less than"}, "cat " * 999, "large N, 999"
    yield "keywords:frequency", {"keyword": "cat", "frequency": 999, "relation": "at least"}, "cat " * 999, "large N at limit"
    for fw in (["cat"], ["cats"], ["cat", "dog"], ["well"], ["known"], ["dont"], ["don't"], ["CAT"], ["a", "b", "c", "d", "e", "f"]):
        yield "keywords:forbidden_words", {"forbidden_words": fw}, "My Cat's category is well-known; don't ask.", f"forbidden {fw}"
    yield "keywords:forbidden_words", {"forbidden_words": ["café"]}, "Un CAFÉ noir.", "accented, case"
    for rel in ("less than", "at least"):
        for n in (2, 3, 4):
            yield "keywords:letter_frequency", {"letter": "e", "let_frequency": n, "let_relation": rel}, "EeE ÉÈ", f"e x3 {rel} {n}"
    yield "keywords:letter_frequency", {"letter": "z", "let_frequency": 1, "let_relation": "less than"}, "Zebra", "capital counts"
    yield "keywords:letter_frequency", {"letter": "Z", "let_frequency": 1, "let_relation": "less than"}, "a plain answer", "capital letter kwarg"
    yield "keywords:letter_frequency", {"letter": "a", "let_frequency": 500, "let_relation": "at least"}, "a" * 500, "large N at limit"


def _format() -> Iterator[Case]:
    ph = "detectable_content:number_placeholders"
    for n in (2, 3):
        yield ph, {"num_placeholders": n}, "Dear [name], see [link](http://x.org) and []", f"2 brackets and a link, {n}"
    yield ph, {"num_placeholders": 1}, "[outer [inner]] text", "nested"
    yield ph, {"num_placeholders": 1}, "[multi\nline]", "across a newline"
    ps = "detectable_content:postscript"
    for marker in ("P.S.", "P.P.S", "P.P.S.", "PS", "Note:"):
        for body, note in (("Thanks.\n\nP.S. Bring snacks.", "P.S. line"), ("Thanks.\n\nP.P.S. More.", "P.P.S. line"),
                           ("Thanks.\n**P.S.** Bring snacks.", "bold P.S."), ("Thanks. P.S. inline", "inline P.S."),
                           ("Thanks.\np. s. lower with space", "p. s."), ("Thanks.\nPS no dots", "PS"),
                           ("Thanks.\nNote: a note", "Note:")):  # fmt: skip
            yield ps, {"postscript_marker": marker}, body, f"{marker} vs {note}"
    bl = "detectable_format:number_bullet_lists"
    yield bl, {"num_bullets": 3}, "* one\n* two\n* three", "3 star bullets"
    yield bl, {"num_bullets": 3}, "* one\n- two\n+ three", "a plus is no bullet"
    yield bl, {"num_bullets": 3}, "* one\n  * nested\n- three\n", "nested, trailing newline"
    yield bl, {"num_bullets": 2}, "**Bold** line\n* one\n* two", "a bold line is no bullet"
    yield bl, {"num_bullets": 2}, "*one\n-two\n---", "no space; a rule counts as dash"
    yield bl, {"num_bullets": 2}, "1. one\n2. two", "numbered"
    yield bl, {"num_bullets": 1}, "* \u2022 one", "bullet character"
    cr = "detectable_format:constrained_response"
    for body in ("My answer is yes.", "my answer is yes.", "My answer is yes", "Well... My answer is maybe. Because.",
                 "  My answer is no.  \n", "**My answer is no.**"):
        yield cr, {}, body, "constrained"
    hl = "detectable_format:number_highlighted_sections"
    for n in (2, 3):
        yield hl, {"num_highlights": n}, "*one* and **two** and * * and ** **", f"two real highlights, {n}"
    yield hl, {"num_highlights": 2}, "* bullet one\n* bullet *two*", "bullets"
    yield hl, {"num_highlights": 1}, "*across\nlines*", "across a newline"
    yield hl, {"num_highlights": 1}, "***bold italic***", "triple stars"
    ms = "detectable_format:multiple_sections"
    for spl in ("Section", "SECTION", "PARAGRAPH", "Day"):
        for n in (2, 3):
            body = f"{spl} 1\nIntro.\n\n{spl} 2\nMore."
            yield ms, {"section_spliter": spl, "num_sections": n}, body, f"two {spl} sections, {n}"
        yield ms, {"section_spliter": spl, "num_sections": 2}, f"## {spl} 1\nA\n## {spl.lower()} 2\nB", f"{spl} markdown, case"
        yield ms, {"section_spliter": spl, "num_sections": 2}, f"{spl}1 A {spl}2 B", f"{spl} no space"
        yield ms, {"section_spliter": spl, "num_sections": 2}, f"{spl} I\nA\n{spl} II\nB", f"{spl} roman numerals"
    np_ = "length_constraints:number_paragraphs"
    for n in (2, 3):
        yield np_, {"num_paragraphs": n}, "One.\n***\nTwo.\n***\nThree.", f"3 paragraphs, {n}"
    yield np_, {"num_paragraphs": 2}, "***\nOne.\n***\nTwo.\n***", "leading and trailing dividers"
    yield np_, {"num_paragraphs": 2}, "One.\n***\n***\nTwo.", "empty middle paragraph"
    yield np_, {"num_paragraphs": 2}, "One.\n* * *\nTwo.", "spaced divider"
    yield np_, {"num_paragraphs": 2}, "One.\n****\nTwo.", "four stars"
    yield np_, {"num_paragraphs": 2}, "One.\n\nTwo.", "blank line only"
    nf = "length_constraints:nth_paragraph_first_word"
    base = {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "however"}
    for body, note in (("Cats.\n\nHowever, dogs.", "plain"), ("Cats.\n\n**However**, dogs.", "bold"),
                       ("Cats.\n\n\"However\" dogs.", "quoted"), ("Cats.\n\nHOWEVER dogs.", "upper"),
                       ("Cats.\n\nHowever's dogs.", "possessive"), ("Cats.\nHowever dogs.", "one newline"),
                       ("Cats.\n\n\n\nHowever dogs.", "four newlines"), ("Cats.\n\nHowever dogs.\n\n", "trailing blank"),
                       ("Cats.\n\nHowever dogs.\n\nBirds.", "three paragraphs"), ("Cats.\n\nHow-ever dogs.", "hyphen")):  # fmt: skip
        yield nf, base, body, f"nth first word: {note}"
    yield nf, {"num_paragraphs": 3, "nth_paragraph": 3, "first_word": "birds"}, "A.\n\nB.\n\nBirds fly.", "third paragraph"


def _structure() -> Iterator[Case]:
    js = "detectable_format:json_format"
    for body in ('```json\n{"a": 1}\n```', '```JSON\n[1, 2]\n```', '```Json\n{"a": 1}\n```  \n', "42", '"text"',
                 '{"a": 1} trailing', "```\n{}\n```", '```python\n{"a": 1}\n```', "  {\n}\n\n", "```json\n{'a': 1}\n```"):  # fmt: skip
        yield js, {}, body, "json"
    ti = "detectable_format:title"
    for body in ("<<A Title>>\nText", "<< >>\nText", "<<>>", "<<Multi\nline>>", "Text <<Late Title>>", "«Title»", "<<<Triple>>>"):
        yield ti, {}, body, "title"
    tr = "combination:two_responses"
    for body in ("A.\n******\nB.", "A.\n******\nA.", "A.\n*******\nB.", "******\nA.\n******\nB.\n******", "A.\n******\n\n******\nB.",
                 "A.   \n******\n  A.", "A.\n******\nB.\n******\nC.", "**A.**\n******\nB."):  # fmt: skip
        yield tr, {}, body, "two responses"
    prompt = "Write a short poem about the sea and the sky."
    rp = "combination:repeat_prompt"
    for body in (prompt + "\n\nBlue meets blue.", prompt.upper() + " Waves.", "  \n" + prompt + " Waves.",
                 "Sure! " + prompt, prompt.replace("  ", " ").replace("sea and", "sea  and") + " Waves.", prompt[:-1]):  # fmt: skip
        yield rp, {"prompt_to_repeat": prompt}, body, "repeat prompt"
    ec = "startend:end_checker"
    for body in ("Bye. Any other questions?", "Bye. Any other questions?  \n\n", 'Bye. "Any other questions?"', "Bye. any other QUESTIONS?",
                 "Bye. Any other questions? 🙂", "Bye. Any other questions?.", "Bye. **Any other questions?**", "Any other questions"):  # fmt: skip
        yield ec, {"end_phrase": "Any other questions?"}, body, "end phrase"
    yield ec, {"end_phrase": "  Is there anything else I can help with?  "}, "Done. Is there anything else I can help with?", "padded phrase"
    qu = "startend:quotation"
    for body in ('"The sea."', '  "The sea."\n', "“Curly.”", '"', '""', '"Open', "'Single.'", '"A" and "B"'):
        yield qu, {}, body, "quotation"
    nc = "punctuation:no_comma"
    for body in ("No commas here.", "One, comma.", "Full width，comma", "Arabic، comma", "Ideographic、comma", "1,000", ""):
        yield nc, {}, body or "\u200b", "comma"


def _case() -> Iterator[Case]:
    cw = "change_case:capital_word_frequency"
    text = "I think the USA and NASA are BIG. AI's U.S.A. COVID-19 OK"
    for rel in ("less than", "at least"):
        for n in (5, 6, 7, 8):
            yield cw, {"capital_frequency": n, "capital_relation": rel}, text, f"capitals {rel} {n}"
    yield cw, {"capital_frequency": 1, "capital_relation": "at least"}, "ПРИВЕТ мир", "Cyrillic capitals"
    yield cw, {"capital_frequency": 1, "capital_relation": "less than"}, "no capitals 123", "none"
    yield cw, {"capital_frequency": 300, "capital_relation": "at least"}, "WORD " * 300, "large N at limit"
    ec = "change_case:english_capital"
    for body in ("THIS IS MY ANSWER, WRITTEN IN CAPITAL LETTERS ONLY.", "THIS IS MY ANSWER, mostly in capitals.", "HI THERE",
                 "DAS IST MEINE ANTWORT IN GROSSBUCHSTABEN UND AUF DEUTSCH.", "1234 5678", "🙂", "THE ANSWER IS 42 🙂\n\n",
                 "**THE ANSWER IS SIMPLE, AND IT IS WRITTEN IN CAPITALS.**"):  # fmt: skip
        yield ec, {}, body, "english capital"
    el = "change_case:english_lowercase"
    for body in ("this is my answer, written only in lowercase letters.", "This is my answer, in lowercase mostly.", "ok sure",
                 "das ist meine antwort, nur in kleinbuchstaben geschrieben.", "42 + 17 = 59", "i'm sure it's well-known. 🙂",
                 "# heading\nthis answer is lowercase english text with a markdown heading.", "straße is a german word in english text."):  # fmt: skip
        yield el, {}, body, "english lowercase"


def _loose() -> Iterator[Case]:
    """A first or last line, or markdown stars, that only the loose variants drop."""
    prompt = "Write a short poem about the sea and the sky."
    yield "length_constraints:number_words", {"num_words": 5, "relation": "less than"}, "Sure, here is my short answer:\nTwo words.", "intro line"
    yield "punctuation:no_comma", {}, "Sure, here it is:\nNo commas here.", "comma in the intro line"
    yield "punctuation:no_comma", {}, "Intro, line\nmiddle\nlast, line", "commas in first and last lines"
    yield "startend:end_checker", {"end_phrase": "Any other questions?"}, "Answer. Any other questions?\nHope this helps!", "outro line"
    yield "detectable_format:json_format", {}, 'Here is the JSON:\n{"a": 1}', "intro line"
    yield "startend:quotation", {}, 'Here:\n"Quoted answer."', "intro line"
    yield "change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "less than"}, "MY BIG TITLE\nnormal text", "caps title line"
    yield "combination:repeat_prompt", {"prompt_to_repeat": prompt}, f"Here is the request:\n{prompt} Waves.", "intro line"
    yield "combination:two_responses", {}, "Two answers:\nA.\n******\nB.", "intro line"
    yield "keywords:forbidden_words", {"forbidden_words": ["cat"]}, "A cat intro\nthe rest\nA cat outro", "first and last lines"
    yield "keywords:forbidden_words", {"forbidden_words": ["cat"]}, "A cat intro\nthe rest", "first line"
    yield "detectable_format:number_bullet_lists", {"num_bullets": 2}, "* intro bullet\n* one\n* two", "one bullet too many"
    yield "change_case:english_capital", {}, "Sure:\nTHIS IS MY ANSWER IN CAPITAL LETTERS AND IN ENGLISH.", "intro line"
    yield "change_case:english_lowercase", {}, "**Note**\nthis is my answer, written in lowercase english letters.", "bold title line"
    yield "detectable_format:title", {}, "*<<Title>>*", "stars around the title"
    yield "detectable_format:number_highlighted_sections", {"num_highlights": 1}, "**bold**", "bold only"
    yield "length_constraints:number_paragraphs", {"num_paragraphs": 2}, "Intro\nOne.\n***\nTwo.\nOutro ***", "divider in the last line"
    yield "startend:end_checker", {"end_phrase": "Bye"}, "Text **Bye**", "bold end phrase"


def cases() -> list[Case]:
    """Every boundary case, in a fixed order."""
    return [*_language(), *_counts(), *_keywords(), *_format(), *_structure(), *_case(), *_loose()]
