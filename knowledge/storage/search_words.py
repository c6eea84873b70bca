"""The full-text index's word list: every word it holds, and in how many documents.

A prefix query ("allianc"*) makes SQLite's FTS5 merge the lists of every word the prefix
starts, and PostgreSQL's GIN index read them all, before anything is ranked: 10–20 ms for a
common word at 100,000 entries. Asked for as the few whole words it stands for ("alliance" OR
"alliances") the same query costs a quarter of that, so a prefix is looked up here first.

On PostgreSQL each word also keeps its newest documents (NEWEST, below): a question's newest
matches are the union of its words' lists, read from a few rows instead of one table page per
matching document (thousands for a word in a few per cent of 100,000 entries). Where the lists
can't tell, the counts tell the search how to find the newest matches (search_index.py): by
walking the entries down from the newest while testing each (fast for a common word), or by
the GIN index and a sort (fast for a rare one). The planner can't tell the two apart for a
prefix or for several words, and a wrong guess cost 350 ms.

PostgreSQL lists the lexemes of the stored tsvectors, exactly what its index holds; SQLite the
folded words of the documents, which is what FTS5 holds of them in plain letters and digits
(the only words a prefix is turned into). A word whose count falls to 0 is no document's any
more and is not offered.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlmodel import Session

from knowledge.language.names import fold
from knowledge.storage.database import is_postgres

EXPANSION = 8  # a prefix that starts more words than this stays a prefix
_LOOKED_UP = "search-words"  # session.info: this unit of work's lookups
_PLAIN = re.compile(r"[a-z0-9]+")

# PostgreSQL also keeps each word's newest documents (`newest`, ids in descending order), so
# that the newest matches of a question are a union of short lists rather than a read of every
# matching document (search_index.py). A list is exact down to its last id: it holds every
# document with the word from there up, and all of them when its length is `docs`. Writes keep
# that true: a document counted out leaves the lists; one counted in joins a list when it is
# newer than the list's last id (or the list is complete), which keeps the NEWEST newest. A
# list emptied while its word still has documents says nothing, and the search falls back on
# the full-text index for that word. NEWEST covers a search's window (RANK_WINDOW, 300) and
# the one more that tells there are more, with room for retracted entries.
NEWEST = 320
REFILL_BELOW = 301  # a search's window (search_index.RANK_WINDOW) and the one more

# Counting in (sign 1) or out (-1): rows in byte order of the words, as the table's key, so
# that two writers lock the same words in the same order. The list of a word counted out
# loses the documents; counted in, it takes those newer than its last id (or all, when it is
# complete) and keeps the NEWEST newest.
_PG_UPSERT = f"""
INSERT INTO searchword AS w (word, docs, newest) {{source}}
ON CONFLICT (word) DO UPDATE SET docs = w.docs + EXCLUDED.docs, newest = CASE
  WHEN EXCLUDED.docs < 0 THEN ARRAY(
    SELECT x FROM unnest(w.newest) AS x WHERE x <> ALL(EXCLUDED.newest) ORDER BY x DESC)
  ELSE ARRAY(
    SELECT DISTINCT x FROM unnest(w.newest || EXCLUDED.newest) AS x
    WHERE cardinality(w.newest) = w.docs OR x >= w.newest[cardinality(w.newest)]
    ORDER BY x DESC LIMIT {NEWEST}) END
"""
# The words of these documents as stored (new documents, counted in).
_PG_COUNT = _PG_UPSERT.format(
    source=f"""SELECT word, count(*), (array_agg(entry_id ORDER BY entry_id DESC))[1:{NEWEST}]
FROM searchdoc, unnest(tsvector_to_array(document)) AS word
WHERE entry_id = ANY(:ids) GROUP BY word ORDER BY word COLLATE "C"
"""
)
# Some words of one document: those it lost (-1) or gained (1) when it was rewritten.
_PG_COUNT_WORDS = _PG_UPSERT.format(
    source="""SELECT word, :sign, ARRAY[CAST(:id AS integer)]
FROM unnest(CAST(:words AS text[])) AS word ORDER BY word COLLATE "C"
"""
)
# A list that lost documents until it is shorter than a search's window (RANK_WINDOW and one
# more) is read again from the full-text index. (The `=` test keeps to the lexeme itself:
# parsing it again may give more than one.)
_PG_REFILL = f"""
UPDATE searchword AS w SET newest = ARRAY(
  SELECT entry_id FROM searchdoc
  WHERE document @@ plainto_tsquery('simple', w.word)
    AND w.word = ANY(tsvector_to_array(document))
  ORDER BY entry_id DESC LIMIT {NEWEST})
WHERE w.word = ANY(:words) AND cardinality(w.newest) < least(w.docs, {REFILL_BELOW})
"""
_SQLITE_COUNT = """
INSERT INTO searchword (word, docs) VALUES (:word, :docs)
ON CONFLICT (word) DO UPDATE SET docs = docs + excluded.docs
"""


def count_documents(session: Session, entry_ids: list[int], sign: int) -> None:
    """Count the words of these entries' stored documents in (sign 1, after they are written)
    or out (-1, before they are replaced; SQLite: PostgreSQL counts a rewritten document's
    changed words, `count_rewritten`)."""
    if not entry_ids:
        return
    session.info.pop(_LOOKED_UP, None)
    if is_postgres(session):
        assert sign > 0, "PostgreSQL counts rewritten documents with count_rewritten"
        session.execute(text(_PG_COUNT), {"ids": entry_ids})
        return
    ids = ", ".join(str(int(i)) for i in entry_ids)
    rows = session.execute(text(f"SELECT title, body FROM searchdoc WHERE rowid IN ({ids})"))
    counts: Counter[str] = Counter()
    for title, body in rows:
        counts.update(set(fold(f"{title} {body}").split()))
    if counts:
        session.execute(
            text(_SQLITE_COUNT), [{"word": w, "docs": n * sign} for w, n in sorted(counts.items())]
        )


def count_rewritten(session: Session, entry_id: int, before: list[str], after: list[str]) -> None:
    """PostgreSQL: count one document's words again after it was rewritten (`before` and
    `after`: its lexemes). Only the words it lost or gained change, so a list keeps the
    document under the words it still has; a list worn short is read again (_PG_REFILL)."""
    session.info.pop(_LOOKED_UP, None)
    lost = sorted(set(before) - set(after))
    gained = sorted(set(after) - set(before))
    for words, sign in ((lost, -1), (gained, 1)):
        if words:
            session.execute(text(_PG_COUNT_WORDS), {"words": words, "sign": sign, "id": entry_id})
    if lost:
        session.execute(text(_PG_REFILL), {"words": lost})


@dataclass(frozen=True)
class Prefix:
    """What the word list knows of a prefix: the words it starts (None when it is better
    asked for as a prefix) and how many documents have one of them (None: unknown); on
    PostgreSQL, for each of those words, its count and newest documents (see NEWEST)."""

    words: list[str] | None
    documents: int | None
    newest: tuple[tuple[int, tuple[int, ...]], ...] = field(default=(), compare=False)


def prefixes_words(session: Session, terms: list[str]) -> list[Prefix]:
    """For each term (a folded word), the words that start with it and in how many documents,
    in one statement: the words only when there are at most EXPANSION and the term is plain
    letters and digits (the list may not know a word of a script that doesn't fold)."""
    # What this unit of work has looked up already (a question's words are looked up to tell
    # which the index has, then searched for); counting documents forgets it.
    known: dict[str, Prefix] = session.info.setdefault(_LOOKED_UP, {})
    plain = [t for t in dict.fromkeys(terms) if _PLAIN.fullmatch(t) and t not in known]
    found: dict[str, list[tuple[str, int, tuple[int, ...]]]] = {t: [] for t in plain}
    if plain:
        params: dict[str, object] = {"n": EXPANSION + 1}
        parts = []
        newest = "newest" if is_postgres(session) else "NULL"
        for i, term in enumerate(plain):
            params[f"t{i}"], params[f"u{i}"] = term, term[:-1] + chr(ord(term[-1]) + 1)
            parts.append(
                f"SELECT * FROM (SELECT {i} AS term, word, docs, {newest} AS newest "
                f"FROM searchword WHERE word >= :t{i} AND word < :u{i} AND docs > 0 "
                f"ORDER BY word LIMIT :n) AS p{i}"
            )  # :u is the first string past every word the term starts
        for i, word, docs, ids in session.execute(text(" UNION ALL ".join(parts)), params):
            found[plain[int(i)]].append((str(word), int(docs), tuple(ids or ())))
    for term, rows in found.items():
        if len(rows) <= EXPANSION:
            known[term] = Prefix(
                [w for w, _, _ in rows] or None,
                sum(n for _, n, _ in rows),
                tuple((n, ids) for _, n, ids in rows),
            )
        else:
            total = session.execute(
                text(
                    "SELECT sum(docs) FROM searchword "
                    "WHERE word >= :term AND word < :upper AND docs > 0"
                ),
                {"term": term, "upper": term[:-1] + chr(ord(term[-1]) + 1)},
            ).scalar_one()
            known[term] = Prefix(None, int(total or 0))
    return [known.get(t, Prefix(None, None)) for t in terms]
