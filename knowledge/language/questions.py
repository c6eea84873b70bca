"""What a question in plain words asks: its language, what kind of answer it wants, its words
in dictionary form, and the dates it names.

Only the grammar of asking lives here: the interrogatives and the few verbs that frame a
question ("what happened", "що сталося", "что случилось") in each language, as dictionary forms;
inflection is pymorphy3's and Snowball's work (`lemmas`), function words come from the
stop-words package, and dates from `when`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

from knowledge.language.dates import FuzzyDate
from knowledge.language.lemmas import frames_only, lemma, raw_words, text_language, words
from knowledge.language.names import name_key
from knowledge.language.when import find_dates, month_number

MAX_QUESTION = 500  # characters of a question that are read; the rest is ignored


class Intent(enum.StrEnum):
    WHO = "who"
    WHAT = "what"
    WHEN = "when"
    WHERE = "where"
    WHY = "why"
    SOURCE = "source"  # where does this come from, who reported it
    YES_NO = "yes_no"
    LATEST = "latest"


class Relation(enum.StrEnum):
    BEFORE = "before"
    AFTER = "after"


# Dictionary forms (Snowball stems for English) that say what a question asks for. The first
# that appears wins, in this order: a question about sources may start with "who".
_INTENT_WORDS: list[tuple[Intent, frozenset[str]]] = [
    (Intent.SOURCE, frozenset({
        "sourc", "report", "cite", "provenance", "джерело", "походити", "повідомити",
        "повідомляти", "источник", "сообщить", "сообщать", "откуда", "звідки",
    })),
    (Intent.LATEST, frozenset({
        "latest", "newest", "recent", "lately", "останній", "новий", "нещодавно",
        "последний", "новый", "недавно",
    })),
    (Intent.WHY, frozenset({"whi", "чому", "навіщо", "почему", "зачем"})),
    (Intent.WHEN, frozenset({"when", "коли", "когда"})),
    (Intent.WHERE, frozenset({"where", "де", "где", "куди", "куда"})),
    (Intent.WHO, frozenset({"who", "whom", "хто", "кто"})),
    (Intent.WHAT, frozenset({"what", "which", "що", "який", "что", "какой"})),
]  # fmt: skip
# A first word that opens a yes/no question.
_YES_NO_OPENERS = frozenset({
    "was", "were", "is", "are", "did", "do", "doe", "has", "have", "had", "will", "can",
    "could", "чи", "ли", "был", "была", "было", "были",
})  # fmt: skip
# Verbs that frame a question without saying what it is about ("what happened").
_FRAME = frozenset({
    "happen", "occur", "take", "place", "begin", "began", "start", "go", "tell", "know",
    "mean", "about", "said", "say", "claim", "statement", "remark", "assert", "заява",
    "заявити", "заявление", "заявить", "статися", "відбутися", "початися", "почати",
    "розповісти", "знати", "означати", "відомо", "такий", "случиться", "произойти",
    "начаться", "начать", "рассказать", "знать", "значить", "известно", "такой",
})  # fmt: skip
# Verbs that ask for events ("what happened in Vilnius"), not for what a thing is.
_HAPPEN = frozenset({
    "happen", "occur", "статися", "відбутися", "бути", "случиться", "произойти", "быть",
})  # fmt: skip
_BEFORE = frozenset({"befor", "prior", "до", "перед", "раніше"})
_AFTER = frozenset({"after", "since", "після", "после", "пізніше", "позже", "з"})
_STOP_LANGUAGES = {"en": "english", "uk": "ukrainian", "ru": "russian"}


@dataclass(frozen=True)
class Term:
    """One word of a question: as typed, in dictionary form, and as a name key."""

    word: str
    lemma: str
    key: str
    weak: bool  # a function word: it may rank, but never decides what the question is about


@dataclass(frozen=True)
class Question:
    text: str
    language: str  # "en", "uk" or "ru"
    intent: Intent
    terms: tuple[Term, ...]
    dates: tuple[FuzzyDate, ...]
    relation: Relation | None = None  # "before the Vilnius summit": relative to what follows
    happened: bool = False  # asks what happened (events), not what something is

    @property
    def content(self) -> tuple[Term, ...]:
        """The words that say what the question is about."""
        return tuple(t for t in self.terms if not t.weak)


@cache
def _stop_words(language: str) -> frozenset[str]:
    from stop_words import get_stop_words

    return frozenset(get_stop_words(_STOP_LANGUAGES[language]))


def _is_weak(word: str, base: str, language: str) -> bool:
    if base in _FRAME or word in _FRAME or word.isdigit():
        return True
    if any(base in group for _, group in _INTENT_WORDS):
        return True
    if base in _BEFORE or base in _AFTER or month_number(word) is not None:
        return True
    stops = _stop_words(language if language in _STOP_LANGUAGES else "en")
    return word in stops or base in stops or len(word) < 2 or frames_only(word, language)


def parse_question(text: str) -> Question:
    """Read a question: language, intent, words, dates and a before/after relation."""
    text = text[:MAX_QUESTION]
    language = text_language(text)
    found = words(text)
    # "US", "EU": an acronym is a name even where the same letters are a function word.
    acronyms = {w.casefold() for w in raw_words(text) if len(w) > 1 and w.isupper()}
    bases = [lemma(w, language) for w in found]
    terms = tuple(
        Term(w, b, name_key(w), w not in acronyms and _is_weak(w, b, language))
        for w, b in zip(found, bases, strict=True)
    )
    base_set = set(bases) | set(found)
    intent = Intent.WHAT
    if {"come", "from"} <= base_set:  # "where does this come from"
        base_set.add("sourc")
    for candidate, group in _INTENT_WORDS:
        if base_set & group:
            intent = candidate
            break
    opens = found and (found[0] in _YES_NO_OPENERS or bases[0] in _YES_NO_OPENERS)
    if opens and (intent == Intent.WHAT or found[0] == "чи"):
        intent = Intent.YES_NO
    relation = None
    if base_set & _BEFORE:
        relation = Relation.BEFORE
    elif base_set & (_AFTER - {"з"}):
        relation = Relation.AFTER
    dates = tuple(p.date for p in find_dates(text))
    happened = bool(base_set & _HAPPEN) and intent != Intent.WHO
    return Question(text, language, intent, terms, dates, relation, happened)
