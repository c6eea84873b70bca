"""Full-text search over entries: SQLite FTS5 or PostgreSQL tsvector, one interface.

The index holds one document per entry (title + body). The curation write path calls
`index_entry` after every change, so the index never drifts from the entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session

from knowledge.language.names import fold
from knowledge.models import EntryState
from knowledge.storage.database import is_postgres

_TOKEN = re.compile(r"\w+", re.UNICODE)


def _document_text(value: str) -> str:
    # Index the original words and their transliterated fold, so Київ finds Kyiv and back.
    folded = fold(value)
    return f"{value} {folded}" if folded and folded != value.casefold() else value


def index_entry(session: Session, entry_id: int, title: str, body: str) -> None:
    """Insert or replace an entry's search document (and add its words to the word list)."""
    title, body = _document_text(title), _document_text(body)
    if is_postgres(session):
        session.execute(
            text(
                "INSERT INTO searchdoc (entry_id, title, body) VALUES (:id, :title, :body) "
                "ON CONFLICT (entry_id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body"
            ),
            {"id": entry_id, "title": title, "body": body},
        )
    else:
        session.execute(text("DELETE FROM searchdoc WHERE rowid = :id"), {"id": entry_id})
        session.execute(
            text("INSERT INTO searchdoc (rowid, title, body) VALUES (:id, :title, :body)"),
            {"id": entry_id, "title": title, "body": body},
        )
    _add_words(session, [entry_id], [title, body])


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
        _add_words(session, [i for i, _, _ in batch], [v for _, t, b in batch for v in (t, b)])


# The word list (table `searchword`, migration 0014) holds every word of the index, so that a
# prefix can be turned into the words it stands for: FTS5 merges the lists of every word a
# prefix starts before ranking anything, and PostgreSQL's GIN index reads them all, which costs
# 10–20 ms for a common word at 100,000 entries; the same words asked for whole cost a quarter
# of that. Words are added, never taken away: a word no document has any more only makes a
# query ask for one word more. PostgreSQL lists the lexemes of the stored tsvectors (exactly
# what its index holds); SQLite the folded words of the documents, which are what FTS5 holds
# of them in plain letters and digits (the only words a prefix is turned into).
EXPANSION = 8  # a prefix that starts more words than this stays a prefix
_PLAIN = re.compile(r"[a-z0-9]+")


def _add_words(session: Session, entry_ids: list[int], texts: list[str]) -> None:
    if is_postgres(session):
        session.execute(
            text(
                "INSERT INTO searchword (word) SELECT DISTINCT unnest(tsvector_to_array(document))"
                " FROM searchdoc WHERE entry_id = ANY(:ids) ON CONFLICT DO NOTHING"
            ),
            {"ids": entry_ids},
        )
        return
    words = {w for value in texts for w in fold(value).split()}
    if words:
        session.execute(
            text("INSERT OR IGNORE INTO searchword (word) VALUES (:word)"),
            [{"word": w} for w in sorted(words)],
        )


def words_starting(session: Session, term: str) -> list[str] | None:
    """The index's words that start with `term` (a folded word), or None when the prefix is
    better asked for as a prefix: it is not plain letters and digits, or starts more than
    EXPANSION words, or none (the word list may not know a word of a script it doesn't fold)."""
    if not _PLAIN.fullmatch(term):
        return None
    upper = term[:-1] + chr(ord(term[-1]) + 1)  # the first string past every word it starts
    found = [
        str(w)
        for (w,) in session.execute(
            text(
                "SELECT word FROM searchword WHERE word >= :term AND word < :upper "
                "ORDER BY word LIMIT :n"
            ),
            {"term": term, "upper": upper, "n": EXPANSION + 1},
        )
    ]
    return found if 0 < len(found) <= EXPANSION else None


def words_of(text: str) -> list[str]:
    """The distinct words of a text, folded as the index folds them."""
    words: list[str] = []
    for token in _TOKEN.findall(text.casefold()):
        words.extend(fold(token).split() or [token])
    return list(dict.fromkeys(words))


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


@dataclass(frozen=True)
class SearchResults:
    hits: list[SearchHit]  # the page asked for, best first
    total: int  # how many published entries match, counted up to RANK_WINDOW
    more: bool  # whether there are more than that


def search_entries(
    session: Session, query: str, *, limit: int, offset: int = 0, any_word: bool = False
) -> SearchResults:
    """Published entries matching every word of `query` (prefix match), best first; with
    `any_word`, those matching at least one of them (the best-scored match most words).

    One statement: the newest matches (an index walk down from the newest id for a common
    word, the full-text index for a rare one), counted up to RANK_WINDOW, scored and paged.
    """
    terms = search_terms(query)
    if not terms:
        return SearchResults([], 0, False)
    if any_word:
        # "allianc"* already matches whatever "alliance"* does: one prefix is one merge of the
        # index's word lists fewer (a common word's costs milliseconds at 100,000 entries).
        terms = [t for t in terms if not any(t != o and t.startswith(o) for o in terms)]
    match = _match(session, terms, any_word)
    if is_postgres(session):
        statement = _POSTGRES_SEARCH
        # psycopg prepares a statement run five times, and PostgreSQL may then settle on one
        # generic plan for every query text: a plan for a rare word, walking 100,000 entries
        # for a common one (70 ms instead of 8). Plan each search for its own words.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    else:
        statement = _SQLITE_SEARCH
    rows = session.execute(
        text(statement),
        {"q": match, "counted": RANK_WINDOW + 1, "window": RANK_WINDOW,
         "limit": limit, "offset": offset},
    ).all()  # fmt: skip
    if not rows and offset:
        # Past the end: the count comes with the rows, so ask for the first one to learn it.
        first = search_entries(session, query, limit=1, any_word=any_word)
        return SearchResults([], first.total, first.more)
    matched = int(rows[0][2]) if rows else 0
    hits = [SearchHit(int(r[0]), float(r[1])) for r in rows]
    return SearchResults(hits, min(matched, RANK_WINDOW), matched > RANK_WINDOW)


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


def _match(session: Session, terms: list[str], any_word: bool) -> str:
    """The full-text query for `terms` (each a prefix): all of them, or with `any_word` any,
    each prefix then as the words it starts where the word list has few of them. (Not for all
    of them: ranked as separate words, a prefix's rarer words would outweigh its common ones,
    and what a search for every word ranks first is what the reader sees.)"""
    postgres = is_postgres(session)
    parts = []
    for term in terms:
        whole = words_starting(session, term) if any_word else None
        if postgres:
            words = [_pg_quote(w) for w in whole] if whole else [f"{_pg_quote(term)}:*"]
        else:
            words = [f'"{w}"' for w in whole] if whole else [f'"{term}"*']
        parts.append(
            words[0]
            if len(words) == 1
            else "(" + (" | " if postgres else " OR ").join(words) + ")"
        )
    if postgres:
        return (" | " if any_word else " & ").join(parts)
    return (" OR " if any_word else " AND ").join(parts)


def _pg_quote(term: str) -> str:
    return "'" + term.replace("'", "''").replace("\\", "") + "'"


def has_word(session: Session, term: str) -> bool:
    """Whether any entry's document has a word starting with `term` (a folded word)."""
    if is_postgres(session):
        # Through the full-text index only: with LIMIT 1 the planner would rather walk the
        # table, which reads every document when the word is in none of them.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_indexscan = off"))
        found = session.execute(
            text("SELECT 1 FROM searchdoc WHERE document @@ to_tsquery('simple', :q) LIMIT 1"),
            {"q": _match(session, [term], any_word=True)},
        ).first()
        session.execute(text("SET LOCAL enable_seqscan = on"))
        session.execute(text("SET LOCAL enable_indexscan = on"))
        return found is not None
    statement = text("SELECT 1 FROM searchdoc WHERE searchdoc MATCH :q LIMIT 1")
    return (
        session.execute(statement, {"q": _match(session, [term], any_word=True)}).first()
        is not None
    )
