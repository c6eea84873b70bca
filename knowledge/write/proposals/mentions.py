"""Which known actors and sources a sentence names, through every alias and spelling.

Aliases are matched as whole words by their name keys (knowledge/language/names.py), an
inflected Cyrillic word also by its dictionary form ("Єрмака", "у Вільнюсі"). Case counts
where the alias has it: "US" is the United States only in capitals, never the pronoun "us",
and "the Alliance" is NATO where the text capitalises it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, process
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from knowledge.language.lemmas import noun_forms
from knowledge.language.names import name_key
from knowledge.language.sentences import Token, tokens
from knowledge.models import Actor, Alias, Entry, EntryKind, EntryState, Source

_MAX_WORDS = 6


@lru_cache(maxsize=65536)
def _key(word: str) -> str:
    return name_key(word)


@lru_cache(maxsize=65536)
def _base_keys(word: str, prefer: str | None) -> tuple[str, ...]:
    return tuple(name_key(form) for form in noun_forms(word, prefer))


@dataclass(frozen=True)
class Known:
    """An actor or a source the knowledge base has."""

    kind: str  # "actor" or "source"
    id: int
    slug: str
    name: str
    detail: str  # the actor's kind (person, state…) or the source's kind


@dataclass
class NameIndex:
    """Every published alias and source name by its key, with the case its words need."""

    by_key: dict[str, list[tuple[Known, str]]] = field(default_factory=lambda: defaultdict(list))
    longest: int = 1
    sources: list[tuple[Known, str]] = field(default_factory=list)  # (source, its name key)
    _actors: dict[str, list[tuple[Known, str]]] | None = None
    _words: dict[str, list[tuple[Known, str]]] | None = None

    def closest(self, key: str) -> tuple[Known, str, float] | None:
        """The actor whose alias is nearest a name key, as find_actors scores it: a whole
        alias by edit distance (≤ 95), or one word of it (a prefix 90, a near word ≤ 94)."""
        if self._actors is None:
            self._actors = {
                k: v for k, v in self.by_key.items() if any(x.kind == "actor" for x, _ in v)
            }
        actors = self._actors
        best: tuple[Known, str, float] | None = None
        found = process.extractOne(key, list(actors), scorer=fuzz.ratio, score_cutoff=78)
        if found:
            known, alias = next((x, a) for x, a in actors[found[0]] if x.kind == "actor")
            best = (known, alias, min(float(found[1]), 95.0))
        if " " not in key:
            words = self._word_index(actors)
            for word, owners in words.items():
                if word.startswith(key) and (best is None or best[2] < 90):
                    best = (owners[0][0], owners[0][1], 90.0)
            near = process.extractOne(key, list(words), scorer=fuzz.ratio, score_cutoff=80)
            if near and (best is None or best[2] < min(float(near[1]), 95.0) - 1):
                owner = words[near[0]][0]
                best = (owner[0], owner[1], min(float(near[1]), 95.0) - 1)
        return best

    def _word_index(
        self, actors: dict[str, list[tuple[Known, str]]]
    ) -> dict[str, list[tuple[Known, str]]]:
        if self._words is None:
            self._words = defaultdict(list)
            for key, owners in actors.items():
                for word in key.split():
                    self._words[word] += [o for o in owners if o[0].kind == "actor"]
        return self._words

    def add(self, known: Known, alias: str) -> None:
        key = name_key(alias)
        if key:
            self.by_key[key].append((known, alias))
            self.longest = min(_MAX_WORDS, max(self.longest, len(key.split())))


def load_index(session: Session) -> NameIndex:
    """The alias index of published actors and the names of published sources."""
    index = NameIndex()
    published = col(Entry.state) == EntryState.PUBLISHED
    for actor_id, slug, name, kind, alias in session.execute(
        sa_select(
            col(Actor.id), col(Entry.slug), col(Actor.name), col(Actor.kind), col(Alias.alias)
        )
        .join(Entry, col(Entry.id) == col(Actor.id))
        .join(Alias, col(Alias.actor_id) == col(Actor.id))
        .where(published)
        .order_by(col(Alias.id))
    ):
        index.add(Known("actor", actor_id, slug, name, kind), alias)
    for source_id, slug, name, kind in session.exec(
        select(Source.id, Entry.slug, Source.name, Source.kind)
        .join(Entry, col(Entry.id) == col(Source.id))
        .where(published, Entry.kind == EntryKind.SOURCE)
    ):
        source = Known("source", source_id, slug, name, kind)
        index.sources.append((source, name_key(name)))
        index.add(source, name)
    return index


def _case_fits(alias: str, words: list[Token]) -> bool:
    """Capitals in the alias must be capitals in the text; a short all-capitals alias ("US",
    "EU") must be written exactly so."""
    alias_words = [w for w in alias.replace("-", " ").split() if any(c.isalnum() for c in w)]
    if len(alias_words) != len(words):
        return all(t.capitalised for t in words)
    for alias_word, token in zip(alias_words, words, strict=True):
        if alias_word.isupper() and len(alias_word) <= 3 and token.text != alias_word:
            return False
        if alias_word[:1].isupper() and not token.capitalised:
            return False
    return True


@dataclass(frozen=True)
class Mention:
    known: Known
    start: int
    end: int
    text: str


def mentions(index: NameIndex, sentence: str, prefer: str | None = None) -> list[Mention]:
    """The known actors and sources a sentence names, longest names first, in text order."""
    words = tokens(sentence)
    keys = [_key(t.text) for t in words]
    found: list[Mention] = []
    i = 0
    while i < len(words):
        matched = 0
        for n in range(min(index.longest, len(words) - i), 0, -1):
            run = words[i : i + n]
            candidates = index.by_key.get(" ".join(keys[i : i + n]))
            if candidates is None and run[-1].capitalised and not run[-1].text.isascii():
                for base in _base_keys(run[-1].text, prefer):
                    candidates = index.by_key.get(" ".join([*keys[i : i + n - 1], base]))
                    if candidates:
                        break
            if not candidates:
                continue
            text = sentence[run[0].start : run[-1].end]
            for known, alias in candidates:
                if _case_fits(alias, run) and all(m.known != known for m in found):
                    found.append(Mention(known, run[0].start, run[-1].end, text))
            if any(m.start == run[0].start for m in found):
                matched = n
                break
        i += matched or 1
    return found
