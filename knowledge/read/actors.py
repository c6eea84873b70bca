"""Who is who: actors by kind, and finding an actor by any alias, spelling or typo."""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from rapidfuzz import fuzz, process
from sqlalchemy import func
from sqlmodel import Session, col, select

from knowledge.language.names import name_key
from knowledge.models import (
    ORIGINAL_LANGUAGE,
    Actor,
    Alias,
)
from knowledge.read.published import hidden_ids
from knowledge.read.translated import Translator
from knowledge.read.views import ActorMatch, Ref
from knowledge.storage.cache import remembered


def actors_by_kind(
    *, session: Session, per_kind: int = 30, language: str = ORIGINAL_LANGUAGE
) -> dict[str, tuple[list[Ref], int]]:
    """Published actors grouped by kind: up to `per_kind` names each (in `language` where
    translated), and how many there are."""

    def compute() -> dict[str, tuple[list[Ref], int]]:
        published = col(Actor.id).not_in(hidden_ids())
        counts = dict(
            session.exec(
                select(Actor.kind, func.count()).where(published).group_by(Actor.kind)
            ).all()
        )
        grouped: dict[str, tuple[list[Ref], int]] = {}
        for kind in sorted(counts):
            # Read in order from the (kind, name) index, not sorted per request.
            rows = session.exec(
                select(Actor.id, Actor.name)
                .where(Actor.kind == kind, published)
                .order_by(col(Actor.name))
                .limit(per_kind)
            ).all()
            names = Translator(session, language, [i for i, _ in rows], ["name"])
            refs = [Ref(i, *names.text(i, "name", n)) for i, n in rows]
            if not names.original:
                refs.sort(key=lambda ref: ref.name.casefold())
            grouped[kind] = (refs, counts[kind])
        return grouped

    return dict(remembered(session, ("actors-by-kind", per_kind, language), compute))


@dataclass(frozen=True)
class _AliasIndex:
    """Every published alias in memory, for fuzzy matching without a query per alias."""

    keys: list[str]  # alias keys, one per alias row
    owners: list[tuple[int, str, str]]  # (actor id, actor name, alias), parallel to keys
    sorted_keys: list[tuple[str, int]]  # (key, index into owners), in code point order
    words: list[str]  # every distinct word of every key, sorted (for prefixes and typos)
    word_owners: list[list[int]]  # indexes into owners, parallel to words

    def starting_with(self, prefix: str) -> Iterator[int]:
        """Owners of the keys that start with `prefix`."""
        start = bisect_left(self.sorted_keys, (prefix,))
        for key, i in itertools.islice(self.sorted_keys, start, None):
            if not key.startswith(prefix):
                return
            yield i


def _load_alias_index(session: Session) -> _AliasIndex:
    rows = session.exec(
        select(Alias.actor_id, Actor.name, Alias.alias, Alias.key)
        .join(Actor, col(Actor.id) == col(Alias.actor_id))
        .where(col(Alias.actor_id).not_in(hidden_ids()))
        .order_by(col(Alias.id))
    ).all()
    owners_of: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        for word in dict.fromkeys(row[3].split()):
            owners_of[word].append(index)
    words = sorted(owners_of)
    return _AliasIndex(
        keys=[r[3] for r in rows],
        owners=[(r[0], r[1], r[2]) for r in rows],
        sorted_keys=sorted((r[3], i) for i, r in enumerate(rows)),
        words=words,
        word_owners=[owners_of[w] for w in words],
    )


def _alias_index(session: Session) -> _AliasIndex:
    return remembered(session, ("aliases",), lambda: _load_alias_index(session))


def find_actors(*, session: Session, query: str, limit: int = 5) -> list[ActorMatch]:
    """Actors matching a name: exact alias key first, then prefix, then fuzzy (typos).

    Scores run 0–100; an exact or prefix match scores 100 or 96 and a fuzzy one at most 95,
    so callers can tell a clear winner (one result, or a lead of several points) from a
    choice to offer.
    """
    key = name_key(query)[:200]
    if not key:
        return []
    best: dict[int, ActorMatch] = {}

    def offer(actor_id: int, name: str, alias: str, score: float) -> None:
        if actor_id not in best or best[actor_id].score < score:
            best[actor_id] = ActorMatch(actor_id, name, alias, score)

    exact = session.exec(
        select(Alias.actor_id, Actor.name, Alias.alias)
        .join(Actor, col(Actor.id) == col(Alias.actor_id))
        .where(Alias.key == key, col(Alias.actor_id).not_in(hidden_ids()))
        .limit(50)
    ).all()
    for actor_id, name, alias in exact:
        offer(actor_id, name, alias, 100.0)
    if len(best) >= limit:
        return sorted(best.values(), key=lambda m: (-m.score, m.name))[:limit]
    index = _alias_index(session)
    # The key followed by more words ("klymenko" -> "klymenko time"). In memory, because a
    # range on the column would depend on PostgreSQL's collation (en_US ignores spaces).
    for i in itertools.islice(index.starting_with(key + " "), 50):
        offer(*index.owners[i], 96.0)
    if len(best) < limit and len(key) >= 3:
        # Plain edit-distance ratios: WRatio's partial matching rates any one- or two-letter
        # alias ("m", "us") 90 against every query containing it.
        for _key, score, i in process.extract(
            key, index.keys, scorer=fuzz.ratio, limit=limit * 4, score_cutoff=78
        ):
            offer(*index.owners[i], min(float(score), 95.0))
        if " " not in key:
            # One word may be any word of a longer name: a surname, or a name half typed.
            start = bisect_left(index.words, key)
            for w in range(start, min(start + limit * 4, len(index.words))):
                if not index.words[w].startswith(key):
                    break
                for i in index.word_owners[w][: limit * 4]:
                    offer(*index.owners[i], 90.0)
            for _word, score, w in process.extract(
                key, index.words, scorer=fuzz.ratio, limit=limit * 4, score_cutoff=80
            ):
                for i in index.word_owners[w][: limit * 4]:
                    offer(*index.owners[i], min(float(score), 95.0) - 1)
    return sorted(best.values(), key=lambda m: (-m.score, m.name))[:limit]


def resolve_actor(*, session: Session, name: str) -> ActorMatch | None:
    """The one actor a name clearly means, or None when it is unknown or ambiguous."""
    matches = find_actors(session=session, query=name, limit=2)
    if matches and (len(matches) == 1 or matches[0].score - matches[1].score >= 5):
        return matches[0]
    return None


MENTION_SCORE = 86  # how close a word must be to an alias word to count as naming the actor


def mentioned_actors(*, session: Session, keys: list[str]) -> dict[int, tuple[int, bool]]:
    """The actors a question's words name, by position: each word's (or two words') name key
    against every alias. Maps a word's position to (actor id, whole name): a whole alias
    ("Yermak", "Vilnius") names the actor; one word of a longer name ("office") only hints."""
    index = _alias_index(session)
    found: dict[int, tuple[int, bool]] = {}
    for i, key in enumerate(keys):
        if len(key) < 2:
            continue
        pair = f"{key} {keys[i + 1]}" if i + 1 < len(keys) else ""
        for candidate, span in ((pair, 2), (key, 1)):
            if not candidate:
                continue
            owner = _exact_owner(index, candidate)
            if owner is not None:
                for j in range(i, i + span):
                    found[j] = (owner, True)
                break
        if i in found or len(key) < 4:
            continue
        # The same words recur from question to question ("happened", "about"): each one's
        # nearest alias word is remembered until the knowledge base changes.
        near = remembered(
            session, ("mentioned-by", key), partial(_near_owner, index, key), namespace="mentions"
        )
        if near is not None:
            found[i] = near
    return found


def _near_owner(index: _AliasIndex, key: str) -> tuple[int, bool] | None:
    """The one actor an alias word close to `key` belongs to (and whether that word is a
    whole alias), or None when no word is close or the closest is several actors'."""
    hit = process.extractOne(
        key, index.words, scorer=fuzz.ratio, score_cutoff=MENTION_SCORE if len(key) > 4 else 99
    )
    if hit is None:
        return None
    owners = {index.owners[o][0] for o in index.word_owners[hit[2]]}
    whole = any(index.keys[o] == hit[0] for o in index.word_owners[hit[2]])
    return (owners.pop(), whole) if len(owners) == 1 else None


def _exact_owner(index: _AliasIndex, key: str) -> int | None:
    start = bisect_left(index.sorted_keys, (key,))
    if start < len(index.sorted_keys) and index.sorted_keys[start][0] == key:
        return index.owners[index.sorted_keys[start][1]][0]
    return None
