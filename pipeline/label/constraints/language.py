"""Language identification for the language/case constraints, via langdetect.

langdetect is probabilistic; seeding its factory makes it deterministic. Short texts are
unreliable, so below MIN_LETTERS letters the detector is not asked and the checker abstains.
"""

from __future__ import annotations

MIN_LETTERS = 20  # below this, detection of even a clear sentence is a coin toss
MIN_PROBABILITY = 0.5  # a top guess weaker than this is "mixed or unclear", not a verdict

LANGUAGES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "pl": "Polish", "tr": "Turkish",
    "ru": "Russian", "ar": "Arabic", "hi": "Hindi", "ja": "Japanese", "ko": "Korean",
    "zh": "Chinese", "vi": "Vietnamese", "id": "Indonesian", "fi": "Finnish", "el": "Greek",
}  # fmt: skip


def detect(text: str) -> tuple[str, float] | None:
    """(language code, probability) of the most likely language, or None when the text is too
    short or mixed to say. Chinese variants (zh-cn, zh-tw) are reported as 'zh'."""
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return None
    try:  # imported here so the registry loads (and renders) without the detector installed
        from langdetect import DetectorFactory, detect_langs
        from langdetect.lang_detect_exception import LangDetectException
    except ImportError as err:
        raise RuntimeError(
            "language constraints need the langdetect package (pip install langdetect)"
        ) from err

    DetectorFactory.seed = 0
    try:
        best = detect_langs(text)[0]
    except LangDetectException:
        return None
    if best.prob < MIN_PROBABILITY:
        return None
    return best.lang.split("-")[0], float(best.prob)


def is_language(text: str, code: str) -> tuple[bool | None, str]:
    """Whether `text` is in language `code`; None (cannot tell) for short or unclear text."""
    found = detect(text)
    name = LANGUAGES.get(code, code)
    if found is None:
        return None, f"too short or mixed to identify the language (need {MIN_LETTERS}+ letters)"
    lang, prob = found
    return lang == code, f"detected {LANGUAGES.get(lang, lang)} (p={prob:.2f}), wanted {name}"
