"""Questions in plain words: which entries answer them, and how sure that is.

The engine finds candidates the way a reader would look: the actors the question names (the
alias index: every alias, Cyrillic and Latin, typos), the entries whose words it shares (the
full-text index, words in dictionary form), the events of the dates it names. Each candidate
is scored by how much of the question it covers: its title counts more than its summary, a
named actor linked to an event counts, a date outside the question's dates counts against.
Words of the question that nothing in the knowledge base has decide whether it is covered at
all ("What's the weather in Kyiv?" knows Kyiv, not the weather).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import sqlalchemy as sa
from rapidfuzz import fuzz, process
from sqlmodel import Session, col, select

from knowledge.language.dates import format_date
from knowledge.language.lemmas import words
from knowledge.language.names import fold
from knowledge.language.questions import Intent, Question, Relation, parse_question
from knowledge.models import ORIGINAL_LANGUAGE, Actor, Entry, EntryKind, Event, EventActor, Source
from knowledge.read.actors import mentioned_actors
from knowledge.read.published import briefing_backs, hidden_ids
from knowledge.read.question_scores import about, cover, date_fit, entry_forms, has
from knowledge.read.search import search_vocabulary
from knowledge.read.translated import Translator, translations
from knowledge.storage.cache import remembered
from knowledge.storage.search_index import have_words, search_entries

CANDIDATES = 25  # entries the full-text index offers per question
# ... the best-ranked of its newest NEWEST matches: a question's words ranked against a few
# more entries would rarely change its best 25, and each one costs (search_index.py).
NEWEST = 100
LINKED = 15  # events per named actor
SURE = 0.5  # share of the question an answer must cover
CLOSE = 0.9  # a runner-up this close to the best is another reading of the question
TYPO = 80  # how close an unknown word must be to a known one to be taken for it


class Verdict(enum.StrEnum):
    ANSWER = "answer"  # the best entries answer it
    CHOICE = "choice"  # two or three readings, equally good: the reader picks
    UNSURE = "unsure"  # the nearest entries, said to be uncertain
    NOT_COVERED = "not_covered"  # the briefing doesn't cover it


@dataclass(frozen=True)
class Candidate:
    """An entry that may answer, and how much of the question it covers (0–1.5)."""

    id: int
    kind: str
    title: str
    date_text: str
    rank: int
    score: float
    status: str = ""  # an event's: confirmed, reported or claimed
    from_briefing: bool = False  # False: only the curators' public-record additions back it
    untranslated: bool = False  # the title is the original: no translation in the language


@dataclass(frozen=True)
class QuestionAnswer:
    question: Question
    verdict: Verdict
    entries: tuple[Candidate, ...]  # best first
    unknown: tuple[str, ...] = ()  # the question's words the knowledge base doesn't have
    anchor: Candidate | None = None  # "before the Vilnius summit": the summit
    listing: bool = False  # dates or "latest" alone: the events they name, not one answer

    @property
    def language(self) -> str:
        return self.question.language


def answer_question(*, session: Session, text: str) -> QuestionAnswer:
    """The entries that answer a question, best first, with how sure the answer is.
    Remembered until the knowledge base changes: readers ask the same things."""
    key = " ".join(words(text))[:300]
    return remembered(session, ("question", key), lambda: _answer(session, parse_question(text)))


def in_language(session: Session, answer: QuestionAnswer, language: str) -> QuestionAnswer:
    """The answer's entries titled in `language` where translated (flagged where not)."""
    if not answer.entries:
        return answer
    shown = [*answer.entries, *([answer.anchor] if answer.anchor else [])]
    fields = ("title", "name", "role", "date_label")
    names = Translator(session, language, [c.id for c in shown], fields)
    dates = _dates_in(session, shown, language, names)

    def titled(c: Candidate) -> Candidate:
        title, missing = names.text(c.id, "title" if c.kind == EntryKind.EVENT else "name",
                                    c.title)  # fmt: skip
        # An actor's line shows its role where an event's shows its date.
        subtitle = (
            names.text(c.id, "role", c.date_text)[0]
            if c.kind == EntryKind.ACTOR
            else dates.get(c.id, c.date_text)
        )
        return replace(c, title=title, untranslated=missing, date_text=subtitle)

    anchor = titled(answer.anchor) if answer.anchor else None
    return replace(answer, entries=tuple(titled(c) for c in answer.entries), anchor=anchor)


def _dates_in(
    session: Session, shown: list[Candidate], language: str, labels: Translator
) -> dict[int, str]:
    """The events' dates as `language` writes them (the answer was worded in the original),
    their labels from the page's translations."""
    ids = [c.id for c in shown if c.kind == EntryKind.EVENT]
    if language == ORIGINAL_LANGUAGE or not ids:
        return {}
    rows = session.execute(
        sa.select(
            col(Event.id), col(Event.date_start), col(Event.precision), col(Event.date_label)
        ).where(col(Event.id).in_(ids))
    ).all()
    return {
        eid: format_date(start, precision, labels.text(eid, "date_label", label or "")[0] or None,
                         language)
        for eid, start, precision, label in rows
    }  # fmt: skip


def _answer(session: Session, question: Question) -> QuestionAnswer:
    terms = question.terms
    mentions = mentioned_actors(session=session, keys=[t.key for t in terms])
    forms: dict[int, list[str]] = {}
    unknown: list[str] = []
    asked = [i for i, term in enumerate(terms) if not term.weak or i in mentions]
    indexed = _indexed(session, [w for i in asked for w in _firsts(terms[i].lemma, terms[i].word)])
    for i in asked:
        term = terms[i]
        found = _known_forms(session, term.lemma, term.word, indexed)
        if found or i in mentions:
            forms[i] = found or [fold(term.word)]
        elif not term.weak:
            unknown.append(term.word)
    _add_actor_names(session, mentions, forms)
    content = [i for i in forms if not terms[i].weak or mentions.get(i, (0, False))[1]]
    if not content and not question.dates and question.intent != Intent.LATEST:
        return QuestionAnswer(question, Verdict.NOT_COVERED, (), tuple(unknown))
    if unknown and len(unknown) >= len(content):
        return QuestionAnswer(question, Verdict.NOT_COVERED, (), tuple(unknown))
    named = {actor for actor, whole in mentions.values() if whole}
    ranked = _rank(session, question, forms, content, mentions, named)
    if question.relation and ranked and content:
        return _relative(session, question, ranked[0])
    if not ranked:
        return QuestionAnswer(question, Verdict.NOT_COVERED, (), tuple(unknown))
    best = ranked[0]
    if best.score < SURE:
        return QuestionAnswer(question, Verdict.UNSURE, tuple(ranked[:3]), tuple(unknown))
    if not content:  # dates or "latest" alone: every event they name, in timeline order
        return QuestionAnswer(question, Verdict.ANSWER, tuple(ranked[:8]), listing=True)
    close = [c for c in ranked[1:3] if c.score >= best.score * CLOSE and c.score >= SURE]
    # Two readings are offered when they are different things the question doesn't choose
    # between (the city or the summit held there) or neither covers the whole question; else
    # the best answers and the rest follow it.
    wanted = EntryKind.ACTOR if question.intent in (Intent.WHO, Intent.WHERE) else EntryKind.EVENT
    other_kind = any(c.kind != best.kind for c in close) and best.kind != wanted
    if close and (other_kind or best.score < 1.0):
        return QuestionAnswer(question, Verdict.CHOICE, (best, *close))
    more = tuple(c for c in ranked[1:5] if c.score >= SURE)
    return QuestionAnswer(question, Verdict.ANSWER, (best, *more), tuple(unknown))


def _indexed(session: Session, words: list[str]) -> dict[str, bool]:
    """Whether the full-text index has a word starting so, for each of `words` at once;
    remembered per knowledge base."""
    words = list(dict.fromkeys(words))
    return remembered(session, ("has-words", *words), partial(have_words, session, words))


def _firsts(base: str, word: str) -> list[str]:
    """A question word's forms to look for in the index: its dictionary form and as typed,
    folded (the first word of each, at least two letters)."""
    firsts = (candidate.split()[0] if candidate else "" for candidate in (fold(base), fold(word)))
    return [first for first in dict.fromkeys(firsts) if len(first) >= 2]


def _add_actor_names(
    session: Session, mentions: dict[int, tuple[int, bool]], forms: dict[int, list[str]]
) -> None:
    """A word that names an actor ("Вільнюсі") also stands for the actor's name as entries
    write it ("Vilnius")."""
    if not mentions:
        return
    names = dict(
        session.exec(
            select(Actor.id, Actor.name).where(
                col(Actor.id).in_({actor for actor, _ in mentions.values()})
            )
        ).all()
    )
    for i, (actor, _) in mentions.items():
        if i in forms and actor in names:
            # The word of the name it stands for: "Офісу" for "Office", not for "Ukraine".
            hit = process.extractOne(forms[i][0], fold(names[actor]).split(), scorer=fuzz.ratio)
            if hit is not None:
                forms[i] = list(dict.fromkeys([*forms[i], hit[0]]))


def _known_forms(session: Session, base: str, word: str, indexed: dict[str, bool]) -> list[str]:
    """How a question's word appears in the index: its dictionary form or as typed (prefixes),
    else the closest word of the published titles and names (a typo, another spelling)."""
    forms = [first for first in _firsts(base, word) if indexed[first]]
    if forms or len(fold(word)) < 4:
        return forms
    hit = process.extractOne(
        fold(word), search_vocabulary(session), scorer=fuzz.ratio, score_cutoff=TYPO
    )
    return [hit[0]] if hit else []


def _rank(
    session: Session,
    question: Question,
    forms: dict[int, list[str]],
    content: list[int],
    mentions: dict[int, tuple[int, bool]],
    named: set[int],
) -> list[Candidate]:
    ids = _candidate_ids(session, question, forms, content, named)
    if not ids:
        return []
    hidden = remembered(session, ("hidden-ids",), lambda: frozenset(session.exec(hidden_ids())))
    ids = [i for i in dict.fromkeys(ids) if i not in hidden]
    links: dict[int, set[int]] = {}
    for event_id, actor_id in session.exec(
        select(EventActor.event_id, EventActor.actor_id).where(col(EventActor.event_id).in_(ids))
    ):
        links.setdefault(event_id, set()).add(actor_id)
    scored: list[Candidate] = []
    total = max(len(content), 1)
    other = (
        translations(session, "uk", ids, ("title", "summary"))
        if question.language in ("uk", "ru")
        else {}
    )
    for kind, eid, title, text, start, precision, label, rank, status, backed in _rows(
        session, ids
    ):
        if kind == EntryKind.ACTOR:
            found = _actor(question, forms, content, mentions, eid, title, label, text)
            scored.append(replace(found, from_briefing=bool(backed)))
        elif kind == EntryKind.SOURCE:
            scored.append(_source(question, forms, content, eid, title, text))
        else:
            # A Ukrainian or Russian question also meets the entry's Ukrainian text.
            title_text = f"{title} {other.get((eid, 'title'), '')}"
            summary_text = f"{text} {other.get((eid, 'summary'), '')}"
            linked = links.get(eid, set())
            score = cover(forms, content, title_text, summary_text, linked, mentions) / total
            fit = date_fit(question, start, precision)
            score = score * fit if content else fit
            if question.intent == Intent.WHO and not (linked & named):
                score *= 0.8
            scored.append(
                Candidate(eid, EntryKind.EVENT, title, format_date(start, precision, label),
                          rank, score, status, bool(backed))
            )  # fmt: skip
    if not content:  # dates or "latest": in timeline order
        scored.sort(key=lambda c: c.rank, reverse=question.intent == Intent.LATEST)
        return scored
    scored.sort(key=lambda c: (-c.score, -c.rank))
    return scored


def _rows(session: Session, ids: list[int]) -> list[tuple[Any, ...]]:
    """The candidates' rows in one statement, whatever their kind: kind, id, title or name,
    summary (description, reliability), date, precision, date label (an actor's role),
    timeline rank, status, whether the briefing backs it (a source: itself)."""
    events = sa.select(
        sa.literal(EntryKind.EVENT.value), col(Event.id), col(Event.title), col(Event.summary),
        col(Event.date_start), col(Event.precision), col(Event.date_label),
        col(Event.timeline_rank), col(Event.status), briefing_backs(col(Event.id)),
    ).where(col(Event.id).in_(ids))  # fmt: skip
    actors = sa.select(
        sa.literal(EntryKind.ACTOR.value), col(Actor.id), col(Actor.name), col(Actor.description),
        sa.null(), sa.null(), col(Actor.role), sa.literal(0), sa.null(),
        briefing_backs(col(Actor.id)),
    ).where(col(Actor.id).in_(ids))  # fmt: skip
    sources = sa.select(
        sa.literal(EntryKind.SOURCE.value), col(Source.id), col(Source.name),
        col(Source.reliability), sa.null(), sa.null(), sa.null(), sa.literal(0), sa.null(),
        sa.true(),
    ).where(col(Source.id).in_(ids))  # fmt: skip
    return [tuple(row) for row in session.execute(sa.union_all(events, actors, sources))]


def _actor(
    question: Question,
    forms: dict[int, list[str]],
    content: list[int],
    mentions: dict[int, tuple[int, bool]],
    aid: int,
    name: str,
    role: str,
    description: str,
) -> Candidate:
    own = {i for i, (actor, _) in mentions.items() if actor == aid}
    score = cover(forms, content, f"{name} {role}", description, set(), {}, own)
    score /= max(len(content), 1)
    if question.dates:
        score *= 0.5  # a question about dates asks for events
    named_by = own | {i for i in content if has(entry_forms(name), forms[i])}
    if about(question, content, named_by) or (question.intent == Intent.WHO and own):
        score += 0.25  # "What is NATO?", "Розкажи про Єрмака": the actor itself
    elif question.intent not in (Intent.WHO, Intent.WHERE, Intent.SOURCE):
        score *= 0.85  # "what happened in Vilnius" asks for events, not the city
    return Candidate(aid, EntryKind.ACTOR, name, role, 0, score)


def _source(
    question: Question,
    forms: dict[int, list[str]],
    content: list[int],
    sid: int,
    name: str,
    reliability: str,
) -> Candidate:
    # A source answers what it is ("What is Klymenko Time?"), by its name only.
    own_words = [w for w in fold(name).split() if len(w) > 3]
    named_by = {i for i in content if has(entry_forms(name), forms[i])}
    said = sum(any(w.startswith(f) for i in content for f in forms[i]) for w in own_words)
    score = cover(forms, content, name, reliability, set(), {}) / max(len(content), 1)
    if about(question, content, named_by) and said * 2 >= len(own_words):
        score += 0.25  # "What is Klymenko Time?"
    elif question.intent != Intent.SOURCE:
        score *= 0.6
    return Candidate(sid, EntryKind.SOURCE, name, "", 0, score, from_briefing=True)


def _candidate_ids(
    session: Session,
    question: Question,
    forms: dict[int, list[str]],
    content: list[int],
    named: set[int],
) -> list[int]:
    ids: list[int] = list(named)
    search_text = " ".join(f for i in content for f in forms[i][:2])
    if search_text:
        hits = search_entries(
            session, search_text, limit=CANDIDATES, any_word=True, window=NEWEST
        ).hits
        ids += [h.entry_id for h in hits]
    if named:
        ids += session.exec(
            select(EventActor.event_id)
            .where(col(EventActor.actor_id).in_(named))
            .order_by(col(EventActor.event_id).desc())
            .limit(LINKED)
        ).all()
    if question.dates:
        start = min(d.start for d in question.dates)
        end = max(d.end for d in question.dates)
        in_range = (
            select(Event.id)
            .where(col(Event.date_start) <= end, col(Event.date_end) >= start)
            .order_by(col(Event.timeline_rank))
        )
        ids += session.exec(in_range.limit(CANDIDATES if content else 20)).all()
    if question.intent == Intent.LATEST and not content:
        ids += session.exec(
            select(Event.id).order_by(col(Event.timeline_rank).desc()).limit(5)
        ).all()
    return ids


def _relative(session: Session, question: Question, anchor: Candidate) -> QuestionAnswer:
    """ "Before / after the Vilnius summit": the events nearest it on that side."""
    if anchor.kind != EntryKind.EVENT:
        return QuestionAnswer(question, Verdict.UNSURE, (anchor,))
    before = question.relation == Relation.BEFORE
    rank = col(Event.timeline_rank)
    rows = session.execute(
        sa.select(col(Event.id), col(Event.title), col(Event.date_start), col(Event.precision),
                  col(Event.date_label), rank, col(Event.status), briefing_backs(col(Event.id)))
        .join(Entry, col(Entry.id) == col(Event.id))
        .where(rank < anchor.rank if before else rank > anchor.rank,
               col(Entry.id).not_in(hidden_ids()))
        .order_by(*((rank.desc(), col(Event.id).desc()) if before else (rank, col(Event.id))))
        .limit(4)
    ).all()  # fmt: skip
    # In timeline order: by rank, ties by id, as the timeline lists them.
    near = tuple(
        Candidate(
            eid,
            EntryKind.EVENT,
            title,
            format_date(start, precision, label),
            r,
            1.0,
            status,
            bool(backed),
        )
        for eid, title, start, precision, label, r, status, backed in sorted(
            rows, key=lambda row: (row[5], row[0])
        )
    )
    if not near:
        return QuestionAnswer(question, Verdict.UNSURE, (anchor,), anchor=anchor)
    return QuestionAnswer(question, Verdict.ANSWER, near, anchor=anchor)
