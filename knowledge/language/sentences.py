"""A briefing's sentences, the names written in them, and who a sentence says it comes from.

Sentences come from sentencex (Wikimedia's segmenter, rules for English, Ukrainian and
Russian), paragraph by paragraph. Attribution is read from a few verbs and phrases given in
their dictionary form; every inflected form reaches them through `lemmas.lemma`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from knowledge.language.lemmas import lemma

# An apostrophe joins letters inside a word ("пам'ять", "O'Brien"); a possessive's ("’s") is
# left out, so "Ukraine’s" is the name "Ukraine".
_TOKEN = re.compile(r"[^\W\d_]+(?:['’ʼ][^\W\d_]{2,})*|\d+")
_PARAGRAPH = re.compile(r"[^\n]+")
_GAP = re.compile(r"^[ \t\-–—]*$")  # what may stand between two words of one name


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int
    paragraph: int


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


def tokens(text: str) -> list[Token]:
    """Words and numbers with their offsets; a hyphen splits ("Ukraine-NATO" is two)."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def split_sentences(text: str, language: str = "en") -> list[Sentence]:
    """The sentences of a text in order, each line a paragraph of its own."""
    from sentencex import segment

    found: list[Sentence] = []
    for number, line in enumerate(_PARAGRAPH.finditer(text)):
        cursor = line.start()
        for piece in segment(language, line.group()):
            stripped = piece.strip()
            if not stripped:
                continue
            start = text.find(stripped, cursor)
            if start < 0:  # the segmenter changed the text; keep what it gave, unplaced
                start = cursor
            end = start + len(stripped)
            cursor = end
            found.append(Sentence(stripped, start, end, number))
    return found


@dataclass(frozen=True)
class Name:
    """Capitalised words in a row: a name the text may be using ("Klymenko Time")."""

    words: tuple[Token, ...]

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.words)

    @property
    def start(self) -> int:
        return self.words[0].start


def capitalised_names(sentence: str, mid_sentence_words: frozenset[str]) -> list[Name]:
    """Runs of capitalised words in a sentence. A sentence's first word is only taken as part
    of a name when the text also writes it capitalised in mid-sentence (`mid_sentence_words`,
    from `capitalised_words`): "The" and "Analysts" opening a sentence are not names."""
    runs: list[list[Token]] = []
    words = tokens(sentence)
    for i, token in enumerate(words):
        if not token.capitalised or token.text.isdigit():
            continue
        if (
            runs
            and runs[-1][-1] is words[i - 1]
            and _GAP.match(sentence[words[i - 1].end : token.start])
        ):
            runs[-1].append(token)
        else:
            runs.append([token])
    names = []
    for run in runs:
        if run[0] is words[0] and run[0].text not in mid_sentence_words:
            run = run[1:]
        if run:
            names.append(Name(tuple(run)))
    return names


def capitalised_words(sentences: list[Sentence]) -> frozenset[str]:
    """Words some sentence writes capitalised somewhere other than at its start."""
    seen = set()
    for sentence in sentences:
        for token in tokens(sentence.text)[1:]:
            if token.capitalised:
                seen.add(token.text)
    return frozenset(seen)


# What a sentence says about where its content comes from, by the dictionary form of its
# verbs and phrases. Someone's own words make a claim; relayed coverage is reported.
_CLAIM_WORDS = {
    "en": "say said says claim assert suggest insist argue told describe "
    "promise warn deny accuse vow",
    "uk": "заявити заявляти сказати казати стверджувати наголосити наголошувати "
    "запевнити пообіцяти попередити заперечити звинуватити",
    "ru": "заявить заявлять сказать говорить утверждать подчеркнуть подчёркивать "
    "заверить пообещать предупредить отрицать обвинить",
}
_REPORT_WORDS = {
    "en": "report according cite cited note indicate write wrote publish coverage relay "
    "via source",
    "uk": "повідомити повідомляти писати дані згідно джерело посилатися",
    "ru": "сообщить сообщать писать данные согласно источник ссылаться",
}


@cache
def _cues(language: str) -> tuple[frozenset[str], frozenset[str]]:
    claim = _CLAIM_WORDS.get(language, _CLAIM_WORDS["en"]).split()
    report = _REPORT_WORDS.get(language, _REPORT_WORDS["en"]).split()
    prefer = language if language in ("uk", "ru") else None
    return (
        frozenset(lemma(w, prefer) for w in claim),
        frozenset(lemma(w, prefer) for w in report),
    )


@dataclass(frozen=True)
class Attribution:
    """A sentence's attribution cue: `claim` (someone's own words) or `report` (coverage),
    the word that says so, and the words before it (the one it is attributed to, often)."""

    kind: str
    cue: str
    before: str


def attribution(sentence: str, language: str = "en") -> Attribution | None:
    """The first attribution cue of a sentence, or None when it states something plainly."""
    claim, report = _cues(language)
    prefer = language if language in ("uk", "ru") else None
    for token in tokens(sentence):
        if token.capitalised and token.start > 0:
            continue  # a name ("Reporters Without Borders", "United States"), not a verb
        base = lemma(token.text.casefold(), prefer)
        kind = "claim" if base in claim else "report" if base in report else None
        if kind:
            return Attribution(kind, token.text, sentence[: token.start].strip(" ,;:"))
    return None
