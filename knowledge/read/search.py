"""Full-text search results for readers, ranked and paged."""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa
from rapidfuzz import fuzz, process
from sqlmodel import Session, col, select

from knowledge.language.dates import format_date
from knowledge.models import (
    ORIGINAL_LANGUAGE,
    Actor,
    Entry,
    EntryKind,
    Event,
    SavedQuery,
    Source,
    SourceKind,
    Translation,
)
from knowledge.read.published import briefing_backs, hidden_ids
from knowledge.read.translated import Translator
from knowledge.read.views import Page, SearchResult
from knowledge.storage.cache import remembered
from knowledge.storage.database import delete_older
from knowledge.storage.search_index import (
    matched_words,
    search_entries,
    search_terms,
    words_of,
)

PARTIAL_WORD = 4  # letters a word needs to count in a some-of-the-words search


def search(
    *,
    session: Session,
    text: str,
    offset: int = 0,
    limit: int = 5,
    language: str = ORIGINAL_LANGUAGE,
) -> Page[SearchResult]:
    """Full-text search over published events, actors and sources, best match first; a word
    in the original or in a translation finds the entry, shown in `language` where it can be.

    Pages are remembered until the knowledge base changes, like timeline pages: the same
    few searches come back again and again, and ranking a common word costs milliseconds.
    """
    terms = tuple(search_terms(text))
    page = remembered(
        session,
        ("search-page", terms, offset, limit, language),
        lambda: _search_page(session, text, offset=offset, limit=limit, language=language),
    )
    return Page(
        list(page.items), page.total, page.offset, page.limit, page.more, partial=page.partial
    )


def _ranked(
    session: Session, text: str, words: list[str], *, offset: int, limit: int
) -> tuple[list[int], int, bool, set[int]]:
    """A page of ids: entries with every word first; when those don't fill the first page and
    the query has two real words or more, then entries with some of them (all of the pages
    are those when nothing has every word). Also the total, whether there are more, and which
    entries have only some of the words."""
    full = search_entries(session, text, limit=limit, offset=offset)
    if len(words) < 2 or full.more or full.total >= limit or (full.total and offset):
        return [h.entry_id for h in full.hits], full.total, full.more, set()
    joined = " ".join(words)
    if full.total == 0:  # nothing has every word: page through those with some
        some = search_entries(session, joined, limit=limit, offset=offset, any_word=True)
        ids = [h.entry_id for h in some.hits]
        return ids, some.total, some.more, set(ids)
    every = [h.entry_id for h in full.hits]
    some = search_entries(session, joined, limit=limit + len(every), any_word=True)
    rest = [h.entry_id for h in some.hits if h.entry_id not in set(every)][: limit - len(every)]
    return every + rest, len(every) + len(rest), False, set(rest)


def _search_page(
    session: Session, text: str, *, offset: int, limit: int, language: str
) -> Page[SearchResult]:
    words = [t for t in search_terms(text) if len(t) >= PARTIAL_WORD and t.isalpha()]
    ids, total, more, some_only = _ranked(session, text, words, offset=offset, limit=limit)
    partial = bool(some_only & set(ids))
    results: dict[int, SearchResult] = {}
    names = Translator(session, language, ids, ["title", "name", "role", "date_label"])
    for kind, eid, title, start, precision, label, role, sort, backed in (
        session.execute(_result_rows(ids)) if ids else ()
    ):
        if kind == EntryKind.EVENT:
            label, _ = names.text(eid, "date_label", label or "")
            when = format_date(start, precision, label or None, language)
            results[eid] = SearchResult(eid, kind, title, when, bool(backed))
        elif kind == EntryKind.ACTOR:
            results[eid] = SearchResult(eid, kind, title, role or sort, bool(backed))
        else:
            results[eid] = SearchResult(eid, kind, title, sort.replace("_", " "),
                                        sort != SourceKind.PUBLIC_RECORD)  # fmt: skip
    results = _translated(results, names)
    if partial:  # say which of the words each entry with only some of them has
        has = matched_words(session, words, [i for i in ids if i in some_only])
        results = {
            i: replace(r, matched=tuple(has[i])) if i in has else r for i, r in results.items()
        }
    items = [results[i] for i in ids if i in results]
    return Page(items, total, offset, limit, more, partial=partial)


def _result_rows(ids: list[int]) -> sa.CompoundSelect:
    """The results' rows in one statement, whatever their kind: kind, id, title or name, date,
    precision, date label, an actor's role, an actor's or a source's kind, and whether the
    briefing backs it."""
    events = sa.select(
        sa.literal(EntryKind.EVENT.value), col(Event.id), col(Event.title), col(Event.date_start),
        col(Event.precision), col(Event.date_label), sa.null(), sa.null(),
        briefing_backs(col(Event.id)),
    ).where(col(Event.id).in_(ids))  # fmt: skip
    actors = sa.select(
        sa.literal(EntryKind.ACTOR.value), col(Actor.id), col(Actor.name), sa.null(), sa.null(),
        sa.null(), col(Actor.role), col(Actor.kind), briefing_backs(col(Actor.id)),
    ).where(col(Actor.id).in_(ids))  # fmt: skip
    sources = sa.select(
        sa.literal(EntryKind.SOURCE.value), col(Source.id), col(Source.name), sa.null(),
        sa.null(), sa.null(), sa.null(), col(Source.kind), sa.true(),
    ).where(col(Source.id).in_(ids))  # fmt: skip
    return sa.union_all(events, actors, sources)


def _translated(
    results: dict[int, SearchResult], translator: Translator
) -> dict[int, SearchResult]:
    """Results with their titles (and actors' roles) in the translator's language where
    translated."""
    if translator.original:
        return results
    shown = {}
    for entry_id, result in results.items():
        field = "title" if result.kind == EntryKind.EVENT else "name"
        title, untranslated = translator.text(entry_id, field, result.title)
        subtitle = result.subtitle
        if result.kind == EntryKind.ACTOR:
            role = translator.found.get((entry_id, "role"))
            subtitle = role or subtitle
        shown[entry_id] = replace(
            result, title=title, subtitle=subtitle, untranslated=untranslated
        )
    return shown


SAVED_TEXT_LIMIT = 300  # characters of a search kept for its ◀ ▶ buttons


def save_query(*, session: Session, text: str) -> int:
    """An id for a search text, so paging buttons can name it within 64 bytes of callback data.
    One row per distinct text: the same search asked again gets the same id."""
    text = text[:SAVED_TEXT_LIMIT]
    existing = session.exec(select(SavedQuery.id).where(SavedQuery.text == text)).first()
    if existing is not None:
        return existing
    saved = SavedQuery(text=text)
    session.add(saved)
    session.flush()
    assert saved.id is not None
    return saved.id


def prune_saved_queries(*, session: Session, days: int) -> int:
    """Forget search texts saved more than `days` ago (their paging buttons then answer that
    the list is out of date); how many went."""
    return delete_older(session, SavedQuery, col(SavedQuery.created_at), days)


def saved_query(*, session: Session, query_id: int) -> str | None:
    """The text saved under `query_id`, or None when there is none."""
    saved = session.get(SavedQuery, query_id)
    return saved.text if saved is not None else None


SUGGEST_SCORE = 80  # how close a known word must be to count as what was meant


def suggest(*, session: Session, text: str) -> str | None:
    """The query with each word the knowledge base doesn't know replaced by the closest one it
    does ("vilnus" -> "vilnius"), or None when there is nothing to suggest."""
    words = search_vocabulary(session)
    terms = search_terms(text)
    fixed = []
    for term in terms:
        if term in words or len(term) < PARTIAL_WORD:
            fixed.append(term)
            continue
        found = process.extractOne(term, words, scorer=fuzz.ratio, score_cutoff=SUGGEST_SCORE)
        fixed.append(found[0] if found else term)
    return " ".join(fixed) if fixed != terms else None


def search_vocabulary(session: Session) -> list[str]:
    """The words of the published titles and names, remembered until the knowledge base
    changes (what typos and other spellings are matched against)."""
    return remembered(session, ("search-vocabulary",), lambda: _vocabulary(session))


def _vocabulary(session: Session) -> list[str]:
    """Every word of the published titles and names, as search folds them."""
    words: set[str] = set()
    for model, attr in ((Event, Event.title), (Actor, Actor.name), (Source, Source.name)):
        rows = session.exec(
            select(attr)
            .join(Entry, col(Entry.id) == col(model.id))
            .where(col(Entry.id).not_in(hidden_ids()))
        )
        for value in rows:
            words.update(words_of(value))
    # Titles and names in translation too, so a misspelt Ukrainian word finds its match.
    for value in session.exec(
        select(Translation.text).where(
            col(Translation.field).in_(("title", "name")),
            col(Translation.entry_id).not_in(hidden_ids()),
        )
    ):
        words.update(words_of(value))
    return sorted(words)
