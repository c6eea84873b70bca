"""Full-text search over entries: SQLite FTS5 or PostgreSQL tsvector, one interface.

The index holds one document per entry (title + body). The curation write path calls
`index_entry` after every change, so the index never drifts from the entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from knowledge.language.names import fold
from knowledge.models import EntryState
from knowledge.storage.database import is_postgres
from knowledge.storage.search_words import count_documents, count_rewritten, prefixes_words

_TOKEN = re.compile(r"\w+", re.UNICODE)


def _document_text(value: str) -> str:
    # Index the original words and their transliterated fold, so Київ finds Kyiv and back.
    folded = fold(value)
    return f"{value} {folded}" if folded and folded != value.casefold() else value


def index_entry(session: Session, entry_id: int, title: str, body: str) -> None:
    """Insert or replace an entry's search document (and count its words, search_words.py)."""
    title, body = _document_text(title), _document_text(body)
    if is_postgres(session):
        # The row is locked first, so that two writers of one entry take turns and each
        # counts out what the other wrote, not what its snapshot held.
        before = session.execute(
            text(
                "SELECT tsvector_to_array(document) FROM searchdoc WHERE entry_id = :id FOR UPDATE"
            ),
            {"id": entry_id},
        ).scalar()
        after = session.execute(
            text(
                "INSERT INTO searchdoc (entry_id, title, body) VALUES (:id, :title, :body) "
                "ON CONFLICT (entry_id) DO UPDATE "
                "SET title = EXCLUDED.title, body = EXCLUDED.body "
                "RETURNING tsvector_to_array(document)"
            ),
            {"id": entry_id, "title": title, "body": body},
        ).scalar_one()
        count_rewritten(session, entry_id, list(before or ()), list(after))
        return
    count_documents(session, [entry_id], -1)
    session.execute(text("DELETE FROM searchdoc WHERE rowid = :id"), {"id": entry_id})
    session.execute(
        text("INSERT INTO searchdoc (rowid, title, body) VALUES (:id, :title, :body)"),
        {"id": entry_id, "title": title, "body": body},
    )
    count_documents(session, [entry_id], 1)


def index_entries(session: Session, documents: Iterable[tuple[int, str, str]]) -> None:
    """Add many new entries' documents at once (entry id, title, body), shaped as `index_entry`
    shapes them; for bulk loads of entries that have no document yet."""
    rows = [
        (entry_id, _document_text(title), _document_text(body))
        for entry_id, title, body in documents
    ]
    column = "entry_id" if is_postgres(session) else "rowid"
    statement = text(f"INSERT INTO searchdoc ({column}, title, body) VALUES (:id, :title, :body)")
    for start in range(0, len(rows), 5_000):
        batch = rows[start : start + 5_000]
        session.execute(statement, [{"id": i, "title": t, "body": b} for i, t, b in batch])
        count_documents(session, [i for i, _, _ in batch], 1)


def words_of(text: str) -> list[str]:
    """The distinct words of a text, folded as the index folds them."""
    if text.isascii() and "_" not in text:
        # Plain ASCII folds to the same words whole as token by token, five times faster
        # (every title of a large knowledge base passes here for the typo vocabulary).
        return list(dict.fromkeys(fold(text).split()))
    words: list[str] = []
    for token in _TOKEN.findall(text.casefold()):
        words.extend(_token_words(token))
    return list(dict.fromkeys(words))


@lru_cache(maxsize=16_384)
def _token_words(token: str) -> tuple[str, ...]:
    """One token's folded words (itself when folding leaves none): the same few thousand
    words recur across a knowledge base's titles, and folding Cyrillic is the slow part."""
    return tuple(fold(token).split()) or (token,)


def search_terms(query: str) -> list[str]:
    """The words of a user's query, folded; punctuation and operators never reach SQL."""
    return words_of(query)[:12]


@dataclass(frozen=True)
class SearchHit:
    entry_id: int
    rank: float


# A query ranks at most the newest RANK_WINDOW entries it matches, and counts no further: a
# word found in most of 100,000 entries would otherwise cost 50–300 ms to count and score
# in full, and nobody pages through 37 pages of results; they add a word instead. The cost
# of a mid-frequency word grows with the window: on PostgreSQL the newest matches are found
# by walking the primary key down and testing each document (about 35 documents read per
# match kept for a word in 3 % of entries): see docs/BENCHMARKS.md, "Handler time".
RANK_WINDOW = 300
# Retracted entries are few: leaving them out by id beats joining every match to `entry`.
_HIDDEN = "SELECT id FROM entry WHERE state IN ({})".format(
    ", ".join(f"'{state.value}'" for state in EntryState if state != EntryState.PUBLISHED)
)

# The newest RANK_WINDOW + 1 matches (the extra one only tells there are more), counted,
# scored and paged in one statement. SQLite scores inside the full-text query, where bm25()
# works; PostgreSQL scores after the window, so ts_rank() never runs for more than it.
_SQLITE_SEARCH = f"""
SELECT id, score, matched FROM (
  SELECT id, score, count(*) OVER () AS matched, row_number() OVER (ORDER BY id DESC) AS newness
  FROM (
    SELECT rowid AS id, -bm25(searchdoc, 4.0, 1.0) AS score FROM searchdoc
    WHERE searchdoc MATCH :q AND rowid NOT IN ({_HIDDEN}) ORDER BY rowid DESC LIMIT :counted
  ) AS newest
) AS counted WHERE newness <= :window ORDER BY score DESC, id LIMIT :limit OFFSET :offset
"""
_POSTGRES_SEARCH = f"""
SELECT counted.id, ts_rank(doc.document, to_tsquery('simple', :q)) AS score, counted.matched
FROM (
  SELECT id, count(*) OVER () AS matched, row_number() OVER (ORDER BY id DESC) AS newness
  FROM (
    SELECT entry_id AS id FROM searchdoc
    WHERE document @@ to_tsquery('simple', :q) AND entry_id NOT IN ({_HIDDEN})
    ORDER BY entry_id DESC LIMIT :counted
  ) AS newest
) AS counted JOIN searchdoc AS doc ON doc.entry_id = counted.id
WHERE counted.newness <= :window ORDER BY score DESC, counted.id LIMIT :limit OFFSET :offset
"""

# A query that matches at most SELECTIVE documents (by the word list's counts) finds them
# through the GIN index and sorts them: `entry_id + 0` keeps the planner from walking the
# primary key instead, which it prefers under a LIMIT and which reads every document down to
# the 300th match (350 ms for a word in 0.5 % of 100,000). Above it walking wins: a word in
# 10 % of the entries is found 300 times in the newest 3,000. Walking reads window × entries
# / matches documents and sorting reads the matches, so where they cost the same grows with
# the square root of the window (SELECTIVE is for RANK_WINDOW, at 100,000 entries).
SELECTIVE = 7_500


def _rewritten(statement: str, *changes: tuple[str, str]) -> str:
    """`statement` with each (old, new) replaced; an `old` it doesn't hold is a mistake."""
    for old, new in changes:
        assert old in statement, old
        statement = statement.replace(old, new)
    return statement


_POSTGRES_RARE = _rewritten(
    _POSTGRES_SEARCH, ("ORDER BY entry_id DESC", "ORDER BY entry_id + 0 DESC")
)
# Any of some whole words whose newest documents the word list holds (search_words.py): the
# newest matches come from those lists, not the index, and only they are read, to be scored.
_POSTGRES_LISTED = _rewritten(
    _POSTGRES_SEARCH,
    (
        "SELECT entry_id AS id FROM searchdoc\n"
        "    WHERE document @@ to_tsquery('simple', :q) AND entry_id NOT IN",
        "SELECT id FROM unnest(CAST(:ids AS integer[])) AS id\n    WHERE id NOT IN",
    ),
    ("ORDER BY entry_id DESC", "ORDER BY id DESC"),
)


@dataclass(frozen=True)
class SearchResults:
    hits: list[SearchHit]  # the page asked for, best first
    total: int  # how many published entries match, counted up to RANK_WINDOW
    more: bool  # whether there are more than that


def search_entries(
    session: Session,
    query: str,
    *,
    limit: int,
    offset: int = 0,
    any_word: bool = False,
    window: int | None = None,
) -> SearchResults:
    """Published entries matching every word of `query` (prefix match), best first; with
    `any_word`, those matching at least one of them (the best-scored match most words).

    One statement: the newest matches (on PostgreSQL from the words' lists of their newest
    documents where every part is whole words; else an index walk down from the newest id
    for a common word, the full-text index for a rare one), counted up to RANK_WINDOW, scored
    and paged.
    """
    terms = search_terms(query)
    if not terms:
        return SearchResults([], 0, False)
    window = window or RANK_WINDOW  # the newest matches ranked: RANK_WINDOW unless asked
    if any_word:
        # "allianc"* already matches whatever "alliance"* does: one prefix is one merge of the
        # index's word lists fewer (a common word's costs milliseconds at 100,000 entries).
        terms = [t for t in terms if not any(t != o and t.startswith(o) for o in terms)]
    match, most, lists = _match(session, terms, any_word)
    params = {"q": match, "counted": window + 1, "window": window, "limit": limit,
              "offset": offset}  # fmt: skip
    listed = _listed_rows(session, lists, params) if lists is not None else None
    rows: Sequence[Any]
    if listed is not None:
        rows = listed  # PostgreSQL, from the words' lists of newest documents
    elif is_postgres(session):
        # The newest matches of a rare query through the GIN index and a sort; of a common
        # one by walking the entries down from the newest (search_words.py).
        rare = most is not None and most <= SELECTIVE * (window / RANK_WINDOW) ** 0.5
        statement = _POSTGRES_RARE if rare else _POSTGRES_SEARCH
        # psycopg prepares a statement run five times, and PostgreSQL may then settle on one
        # generic plan for every query text: a plan for a rare word, walking 100,000 entries
        # for a common one (70 ms instead of 8). Plan each search for its own words.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        rows = session.execute(text(statement), params).all()
    else:
        rows = session.execute(text(_SQLITE_SEARCH), params).all()
    if not rows and offset:
        # Past the end: the count comes with the rows, so ask for the first one to learn it.
        first = search_entries(session, query, limit=1, any_word=any_word, window=window)
        return SearchResults([], first.total, first.more)
    matched = int(rows[0][2]) if rows else 0
    hits = [SearchHit(int(r[0]), float(r[1])) for r in rows]
    return SearchResults(hits, min(matched, window), matched > window)


def matched_words(
    session: Session, terms: list[str], entry_ids: list[int]
) -> dict[int, list[str]]:
    """Which of `terms` each entry's document has (prefix match, as search matches)."""
    found: dict[int, list[str]] = {i: [] for i in entry_ids}
    if not entry_ids:
        return found
    ids = ", ".join(str(int(i)) for i in entry_ids)
    for term in terms:
        if is_postgres(session):
            statement = text(
                f"SELECT entry_id FROM searchdoc WHERE entry_id IN ({ids}) "
                "AND document @@ to_tsquery('simple', :q)"
            )
            match = f"{_pg_quote(term)}:*"
        else:
            statement = text(
                f"SELECT rowid FROM searchdoc WHERE searchdoc MATCH :q AND rowid IN ({ids})"
            )
            match = f'"{term}"*'
        for (entry_id,) in session.execute(statement, {"q": match}):
            found[int(entry_id)].append(term)
    return found


def _listed_rows(
    session: Session, lists: list[tuple[int, tuple[int, ...]]], params: dict[str, Any]
) -> Sequence[Any] | None:
    """The search's rows from the words' lists of newest documents, or None when the lists
    can't tell which the newest matches are (then the full-text index is asked)."""
    listed = _newest_listed(lists)
    if listed is None:
        return None
    ids, complete = listed
    if not complete and len(ids) < params["counted"]:
        return None  # fewer than the window: ask the index
    rows = session.execute(text(_POSTGRES_LISTED), {**params, "ids": ids}).all()
    if not complete and (not rows or int(rows[0][2]) < params["counted"]):
        return None  # fewer than the window once hidden entries are out: ask the index
    return rows


def _newest_listed(lists: list[tuple[int, tuple[int, ...]]]) -> tuple[list[int], bool] | None:
    """From each word's count and newest documents (search_words.py), the documents that have
    one of the words, newest first, exactly from some id up; and whether that is all of them.
    None when a list says nothing (emptied while its word has documents)."""
    cut = 0  # every document from this id up is in the lists
    found: set[int] = set()
    for documents, newest in lists:
        if len(newest) < documents:
            if not newest:
                return None
            cut = max(cut, newest[-1])
        found.update(newest)
    return sorted((i for i in found if i >= cut), reverse=True), cut == 0


def _match(
    session: Session, terms: list[str], any_word: bool
) -> tuple[str, int | None, list[tuple[int, tuple[int, ...]]] | None]:
    """The full-text query for `terms` (each a prefix), all of them or with `any_word` any;
    at most how many documents it matches (None: unknown); and when every part is whole words
    whose newest documents PostgreSQL's word list holds, those lists (else None). With
    `any_word` each prefix is asked for as the words it starts where there are few. (Not with
    all of them: ranked as separate words, a prefix's rarer words would outweigh its common
    ones, and what a search for every word ranks first is what the reader sees.)"""
    postgres = is_postgres(session)
    parts: dict[str, int | None] = {}  # each part of the query, and how many documents it has
    # The lists serve any of several words, or one: every document with the words a prefix
    # starts is every document the prefix finds. (All of several would take an intersection.)
    listed = postgres and (any_word or len(terms) == 1)
    lists: list[tuple[int, tuple[int, ...]]] | None = [] if listed else None
    looked_up = prefixes_words(session, terms) if any_word or postgres else [None] * len(terms)
    for term, known in zip(terms, looked_up, strict=True):
        whole = known.words if known and any_word else None
        if lists is not None:
            lists = lists + list(known.newest) if known and known.words else None
        if postgres:
            words = [_pg_quote(w) for w in whole] if whole else [f"{_pg_quote(term)}:*"]
        else:
            words = [f'"{w}"' for w in whole] if whole else [f'"{term}"*']
        joiner = " | " if postgres else " OR "
        # A word and its dictionary form often come to the same part: it is asked for once.
        parts[words[0] if len(words) == 1 else "(" + joiner.join(words) + ")"] = (
            known.documents if known else None
        )
    counts = list(parts.values())
    known_counts = [n for n in counts if n is not None]
    if any_word:
        most = sum(known_counts) if len(known_counts) == len(counts) else None
    else:
        most = min(known_counts, default=None)
    if postgres:
        return (" | " if any_word else " & ").join(parts), most, lists
    return (" OR " if any_word else " AND ").join(parts), most, None


def _pg_quote(term: str) -> str:
    return "'" + term.replace("'", "''").replace("\\", "") + "'"


def have_words(session: Session, terms: list[str]) -> dict[str, bool]:
    """Whether any entry's document has a word starting with each of `terms` (folded words):
    from the word list in one statement, the index itself asked only where the list can't
    tell."""
    postgres = is_postgres(session)
    found = {}
    for term, known in zip(terms, prefixes_words(session, terms), strict=True):
        if known.documents:
            found[term] = True  # the word list counts only words the index has
        elif known.documents == 0 and postgres:
            found[term] = False  # PostgreSQL's list is the index's own lexemes: none is none
        else:
            found[term] = _in_index(session, term)
    return found


def _in_index(session: Session, term: str) -> bool:
    if is_postgres(session):
        # Through the full-text index only: with LIMIT 1 the planner would rather walk the
        # table, which reads every document when the word is in none of them.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_indexscan = off"))
        found = session.execute(
            text("SELECT 1 FROM searchdoc WHERE document @@ to_tsquery('simple', :q) LIMIT 1"),
            {"q": f"{_pg_quote(term)}:*"},
        ).first()
        session.execute(text("SET LOCAL enable_seqscan = on"))
        session.execute(text("SET LOCAL enable_indexscan = on"))
        return found is not None
    statement = text("SELECT 1 FROM searchdoc WHERE searchdoc MATCH :q LIMIT 1")
    return session.execute(statement, {"q": f'"{term}"*'}).first() is not None
