"""Words in the form a dictionary lists them, for English, Ukrainian and Russian text.

"Єрмака", "Ермаке" and "саміті" become "єрмак", "ермак" and "саміт" (pymorphy3 with its
Ukrainian and Russian dictionaries); English words become Snowball stems ("summits" ->
"summit", "happened" -> "happen"). Questions and indexed entries go through the same function,
so an inflected word in a question meets its base form in an entry.

The dictionaries take about 48 MB together, so they load on first use, not at start-up; so
does the stemmer.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"[^\W_]+(?:['’ʼ-][^\W_]+)*")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_UKRAINIAN_ONLY = set("іїєґ")
_RUSSIAN_ONLY = set("ыэёъ")

_lock = threading.Lock()
_analysers: dict[str, Any] = {}


@lru_cache(maxsize=1)
def _english() -> Any:
    import snowballstemmer  # 3 MB: on first use, like the dictionaries

    return snowballstemmer.stemmer("english")


def raw_words(text: str) -> list[str]:
    """The words of a text as written, apostrophes and hyphens kept inside a word."""
    text = unicodedata.normalize("NFC", text).replace("’", "'").replace("ʼ", "'")
    return _WORD.findall(text)


def words(text: str) -> list[str]:
    """The words of a text, case-folded (`raw_words`, one for one)."""
    return [word.casefold() for word in raw_words(text)]


def _analyser(lang: str) -> Any:
    analyser = _analysers.get(lang)
    if analyser is None:
        with _lock:  # two worker threads must not build the same 24 MB dictionary twice
            analyser = _analysers.get(lang)
            if analyser is None:
                import pymorphy3  # a heavy import: only when a Cyrillic word first needs it

                analyser = pymorphy3.MorphAnalyzer(lang=lang)
                _analysers[lang] = analyser
    return analyser


def cyrillic_language(word: str) -> str | None:
    """ "uk" or "ru" when the letters tell, else None (both languages share most letters)."""
    letters = set(word)
    if letters & _UKRAINIAN_ONLY:
        return "uk"
    if letters & _RUSSIAN_ONLY:
        return "ru"
    return None


@lru_cache(maxsize=65536)
def lemma(word: str, prefer: str | None = None) -> str:
    """One word's dictionary form: a Cyrillic word through pymorphy3 (the language its letters
    show, else `prefer`, else whichever dictionary knows the word), a Latin word as its English
    Snowball stem. Numbers and other scripts stay as they are."""
    if _CYRILLIC.search(word):
        lang = cyrillic_language(word)
        order = [lang] if lang else ([prefer] if prefer in ("uk", "ru") else []) + ["uk", "ru"]
        fallback = None
        for code in dict.fromkeys(order):
            assert code is not None
            parse = _analyser(code).parse(word)[0]
            if parse.is_known:
                return str(parse.normal_form).replace("ё", "е")
            fallback = fallback or str(parse.normal_form)
        return (fallback or word).replace("ё", "е")
    if word.isascii() and word.isalpha():
        return str(_english().stemWord(word))
    return word


def lemmas(text: str, prefer: str | None = None) -> list[str]:
    """The dictionary forms of a text's words, in order. A Cyrillic word that could be either
    language is read as the text's language (`prefer`, else `text_language`)."""
    found = words(text)
    if prefer is None and any(_CYRILLIC.search(word) for word in found):
        prefer = text_language(text)
    return [lemma(word, prefer) for word in found]


def text_language(text: str) -> str:
    """ "uk", "ru" or "en": what the text is mostly written in, told by its letters and, for
    Cyrillic text that could be either, by which dictionary knows more of its words."""
    found = words(text)
    cyrillic = [w for w in found if _CYRILLIC.search(w)]
    if len(cyrillic) * 2 < len([w for w in found if w.isalpha()]) or not cyrillic:
        return "en"
    votes = {"uk": 0, "ru": 0}
    for word in cyrillic:
        lang = cyrillic_language(word)
        if lang:
            votes[lang] += 3
            continue
        for code in votes:
            if _analyser(code).word_is_known(word):
                votes[code] += 1
    return "ru" if votes["ru"] > votes["uk"] else "uk"


# Parts of speech that can say what a question is about; verbs, adverbs and particles frame it.
_CONTENT_TAGS = frozenset({"NOUN", "ADJF", "ADJS", "NUMR", "LATN", "UNKN"})


def frames_only(word: str, prefer: str | None = None) -> bool:
    """Whether a Cyrillic word is a verb, adverb or other framing word ("розкажи", "делала")
    rather than a name or thing, as pymorphy3's best parse tags it."""
    if not _CYRILLIC.search(word):
        return False
    lang = cyrillic_language(word) or (prefer if prefer in ("uk", "ru") else "uk")
    parse = _analyser(lang).parse(word)[0]
    return parse.is_known and parse.tag.POS not in _CONTENT_TAGS and parse.tag.POS is not None


def noun_forms(word: str, prefer: str | None = None) -> list[str]:
    """Every dictionary form a Cyrillic word may be a noun of, the likeliest first: "Києві"
    is the city Київ as well as the name Кий, so a name lookup tries both. Empty for a word
    no dictionary reads as a noun (an adjective such as "Суспільне"), and for Latin script."""
    if not _CYRILLIC.search(word):
        return []
    lang = cyrillic_language(word)
    order = [lang] if lang else ([prefer] if prefer in ("uk", "ru") else []) + ["uk", "ru"]
    forms: list[str] = []
    for code in dict.fromkeys(order):
        assert code is not None
        for parse in _analyser(code).parse(word.casefold()):
            if parse.is_known and parse.tag.POS == "NOUN":
                form = str(parse.normal_form).replace("ё", "е")
                if form not in forms:
                    forms.append(form)
        if forms:
            break
    return forms
