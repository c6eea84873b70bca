"""How much of a question an entry covers: the question's words (in the forms the index
has them) against the entry's title, body and linked actors, and its date against the
question's dates. Pure functions of plain values; the engine is knowledge/read/questions.py.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from knowledge.language.dates import date_end
from knowledge.language.lemmas import lemma
from knowledge.language.names import fold
from knowledge.language.questions import Intent, Question


def about(question: Question, content: list[int], named: set[int]) -> bool:
    """Whether the question asks what something is: its every word names that one thing."""
    entity = question.intent in (Intent.WHAT, Intent.WHO, Intent.WHERE, Intent.YES_NO)
    return (
        entity
        and not question.happened
        and not question.dates
        and bool(content)
        and set(content) <= named
    )


@lru_cache(maxsize=20_000)
def entry_forms(text: str) -> frozenset[str]:
    """The folded words of an entry's text and their stems. Entries are compared folded
    (Latin letters), as the question's words are; remembered, as the same entries come up
    for question after question."""
    folded = fold(text).split()
    return frozenset(folded) | {lemma(w) for w in folded}


def cover(
    forms: dict[int, list[str]],
    content: list[int],
    title: str,
    body: str,
    linked: set[int],
    mentions: dict[int, tuple[int, bool]],
    own: set[int] | None = None,
) -> float:
    """How much of the question's content an entry covers: a word in its title 1, in its body
    0.6, a named actor it is linked to 0.9; its own name (an actor's) 1."""
    head, rest = entry_forms(title), entry_forms(body)
    score = 0.0
    for i in content:
        # A word in the body as well breaks ties between titles that both have it.
        tie = 0.05 if has(rest, forms[i]) else 0.0
        if own and i in own:
            score += 1.0
        elif has(head, forms[i]):
            score += 1.0 + tie + 0.04 * lead(title, forms[i])
        elif i in mentions and mentions[i][0] in linked:
            score += 0.9
        elif has(rest, forms[i]):
            score += 0.6
    return score


def lead(title: str, forms: list[str]) -> float:
    """1 for a word that opens a title, less the later it comes: a title's subject is what
    the entry is about ("Vilnius summit ends…" over "…for the Vilnius summit")."""
    folded = fold(title).split()
    for position, word in enumerate(folded):
        if any(word.startswith(f) for f in forms if f):
            return 1.0 - position / len(folded)
    return 0.0


def has(words_of_entry: frozenset[str], forms: list[str]) -> bool:
    prefixes = tuple(f for f in forms if f)
    return bool(prefixes) and any(w.startswith(prefixes) for w in words_of_entry)


def date_fit(question: Question, start: date, precision: str) -> float:
    """1 when the event lies within the question's dates (or there are none), less outside."""
    if not question.dates:
        return 1.0
    end = date_end(start, precision)
    for asked in question.dates:
        if start <= asked.end and end >= asked.start:
            return 1.2
    return 0.3
