"""Readers' answers: what knowledge says, rendered. Each takes the session of one unit of work.

Handlers run these through `bot.context.run_db` (off the event loop); moderators' previews use
the same functions, so a moderator sees an entry exactly as readers will. Whole rendered
replies are remembered until the knowledge base changes (`namespace="replies"`): the same few
questions come back again and again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session

from bot.i18n import explained, translator
from bot.presenters.entries import (
    actor_card,
    actor_choices,
    actors_overview,
    entry_citations,
    event_card,
    source_card,
    sources_overview,
)
from bot.presenters.entries import timeline_page as render_timeline_page
from bot.presenters.html import Reply, clip, esc, split_blocks
from bot.presenters.overview import about
from bot.presenters.questions import question_reply
from bot.presenters.search import search_page
from knowledge.models import ORIGINAL_LANGUAGE, EntryKind
from knowledge.read.actors import actors_by_kind, find_actors
from knowledge.read.entries import (
    actor_detail,
    citations_of,
    entry_kind,
    event_detail,
    source_detail,
    titled_refs,
)
from knowledge.read.overview import overview
from knowledge.read.questions import QuestionAnswer, Verdict, answer_question, in_language
from knowledge.read.search import save_query, saved_query, search, suggest
from knowledge.read.sources import find_source, source_overview
from knowledge.read.timeline import (
    FilterError,
    TimelineFilter,
    decode_filter,
    resolve_timeline_filter,
    timeline_page,
)
from knowledge.read.views import ActorDetail, EventDetail, PageKey
from knowledge.storage.cache import remembered

PAGE_SIZE = 10
SEARCH_PAGE_SIZE = 8
SOURCES_SHOWN = 40
INLINE_RESULTS = 10
CLOSE_MATCH = 5  # actors scoring within this of the best match are offered as a choice
ENTRY_ID = re.compile(r"^#?(\d{1,9})$")
# Button data is whatever a client sends: parse it strictly; anything else is out of date.
_TIMELINE_BUTTON = re.compile(r"tl:([a-z0-9-]{1,24}):(\d{1,7})(?::([ab0-9.]{1,24}))?")
_SEARCH_BUTTON = re.compile(r"sr:(\d{1,9}):(\d{1,7})")


def timeline_answer(session: Session, text: str, language: str = ORIGINAL_LANGUAGE) -> Reply:
    """/timeline [dates | actor | topic]."""
    try:
        flt = resolve_timeline_filter(session=session, text=text)
    except FilterError as exc:
        hint = translator(language).gettext(
            "Try <code>/timeline 2023</code>, <code>/timeline 2022-02..2023-07</code> or "
            "<code>/timeline Yermak</code>."
        )
        return Reply([f"{esc(explained(exc, language))}.\n{hint}"])
    return _timeline_reply(session, flt, language=language)


def timeline_button_answer(
    session: Session, data: str, language: str = ORIGINAL_LANGUAGE
) -> Reply | None:
    """◀ ▶ on a timeline: `tl:<filter>:<offset>[:<page key>]`; None when out of date."""
    match = _TIMELINE_BUTTON.fullmatch(data)
    if match is None:
        return None
    key = PageKey.parse(match.group(3)) if match.group(3) else None
    flt = decode_filter(session=session, code=match.group(1))
    if flt is None or (match.group(3) and key is None):
        return None
    return _timeline_reply(session, flt, int(match.group(2)), key, language=language)


def _timeline_reply(
    session: Session,
    flt: TimelineFilter,
    offset: int = 0,
    key: PageKey | None = None,
    *,
    language: str,
) -> Reply:
    def build() -> Reply:
        page = timeline_page(
            session=session, flt=flt, offset=offset, limit=PAGE_SIZE, key=key, language=language
        )
        return render_timeline_page(page, flt.label, flt.code(), language=language)

    memo_key = ("timeline", flt.code(), flt.start, flt.end, offset, key, language)
    return remembered(session, memo_key, build, namespace="replies")


def remembered_entry(session: Session, entry_id: int, language: str = ORIGINAL_LANGUAGE) -> Reply:
    """`entry_reply`, from the cache of rendered replies when it is there."""
    return remembered(
        session,
        ("entry", entry_id, language),
        lambda: entry_reply(session, entry_id, language),
        namespace="replies",
    )


def event_answer(session: Session, entry_id: int, language: str = ORIGINAL_LANGUAGE) -> Reply:
    """/event N: the event; another kind of entry is shown too, but said to be what it is."""
    kind = entry_kind(session=session, entry_id=entry_id)
    card = remembered_entry(session, entry_id, language)
    if kind is None or kind == EntryKind.EVENT:
        return card
    _ = translator(language).gettext
    if kind == EntryKind.SOURCE:
        head = _("#{id} is a source, not an event (/sources lists them):")
    else:
        head = _("#{id} is a person or organisation, not an event (/who lists them):")
    return Reply(split_blocks([head.format(id=entry_id), *card.parts]), card.keyboard)


def entry_reply(session: Session, entry_id: int, language: str = ORIGINAL_LANGUAGE) -> Reply:
    """Any entry by id, rendered by its kind (its text in `language` where translated); an
    unknown id gets a clear answer."""
    kind = entry_kind(session=session, entry_id=entry_id)
    if kind == EntryKind.EVENT:
        detail = event_detail(session=session, event_id=entry_id, language=language)
        if detail:
            return event_card(detail, language=language)
    elif kind == EntryKind.ACTOR:
        actor = actor_detail(session=session, actor_id=entry_id, language=language)
        if actor:
            return actor_card(actor, language=language)
    elif kind == EntryKind.SOURCE:
        source = source_detail(session=session, source_id=entry_id, language=language)
        if source:
            return source_card(source, language=language)
    text = translator(language).gettext("There is no entry #{id}. /timeline lists the events.")
    return Reply([text.format(id=entry_id)])


def who_answer(session: Session, text: str, language: str = ORIGINAL_LANGUAGE) -> Reply:
    """/who [name]: everyone by kind, one actor's card, or a choice between close matches."""
    return remembered(
        session,
        ("who", text, language),
        lambda: _who(session, text, language),
        namespace="replies",
    )


def _who(session: Session, text: str, language: str) -> Reply:
    if not text:
        return actors_overview(
            actors_by_kind(session=session, language=language), language=language
        )
    matches = find_actors(session=session, query=text, limit=5)
    if not matches:
        # A channel or outlet is a source, kept once: /who finds it there too.
        source = find_source(session=session, name=text)
        if source is not None:
            return entry_reply(session, source.id, language)
        nobody = translator(language).gettext(
            "I know nobody called “{name}”. Send /who to see everyone."
        )
        return Reply([nobody.format(name=esc(clip(text, 60)))])
    top = matches[0]
    close = [m for m in matches if top.score - m.score < CLOSE_MATCH]
    if len(close) > 1:
        return actor_choices(text, close, language=language)
    detail = actor_detail(session=session, actor_id=top.id, language=language)
    assert detail is not None
    return actor_card(detail, language=language)


def sources_answer(session: Session, text: str, language: str = ORIGINAL_LANGUAGE) -> Reply:
    """/sources, /sources <entry id>, /sources <source name>."""
    return remembered(
        session,
        ("sources", text, language),
        lambda: _sources(session, text, language),
        namespace="replies",
    )


def _sources(session: Session, text: str, language: str) -> Reply:
    _ = translator(language).gettext
    if not text:
        # A large knowledge base has hundreds of sources: list the most cited, not all.
        every = source_overview(session=session, language=language)
        return sources_overview(every[:SOURCES_SHOWN], total=len(every), language=language)
    match = ENTRY_ID.match(text)
    if match:
        entry_id = int(match.group(1))
        kind = entry_kind(session=session, entry_id=entry_id)
        if kind == EntryKind.SOURCE:
            return entry_reply(session, entry_id, language)
        if kind is None:
            return Reply([_("There is no entry #{id}.").format(id=entry_id)])
        refs = titled_refs(session=session, entry_ids=[entry_id], language=language)
        title = refs[0].name if refs else ""
        citations = citations_of(session=session, entry_id=entry_id, language=language)
        return entry_citations(entry_id, title, citations, language=language)
    source = find_source(session=session, name=text)
    if source is None:
        missing = _("No source is called “{name}”. Send /sources for the list.")
        return Reply([missing.format(name=esc(clip(text, 60)))])
    return entry_reply(session, source.id, language)


def search_answer(session: Session, text: str, language: str = ORIGINAL_LANGUAGE) -> Reply:
    """/search words: the first page, and the text saved for its ◀ ▶ buttons (this writes);
    when nothing matches, the words the knowledge base knows that were probably meant."""
    # Search before saving the text: a session that has written bypasses the answer cache.
    page = search(session=session, text=text, limit=SEARCH_PAGE_SIZE, language=language)
    meant = suggest(session=session, text=text) if not page.items else None
    saved = save_query(session=session, text=text)
    return search_page(text, saved, page, suggestion=meant, language=language)


def search_button_answer(
    session: Session, data: str, language: str = ORIGINAL_LANGUAGE
) -> Reply | None:
    """◀ ▶ on search results: `sr:<saved query id>:<offset>`; None when out of date."""
    match = _SEARCH_BUTTON.fullmatch(data)
    text = saved_query(session=session, query_id=int(match.group(1))) if match else None
    if match is None or text is None:
        return None
    page = search(
        session=session,
        text=text,
        offset=int(match.group(2)),
        limit=SEARCH_PAGE_SIZE,
        language=language,
    )
    return search_page(text, int(match.group(1)), page, language=language)


@dataclass(frozen=True)
class SharedEntry:
    """One inline result: an entry's card, ready to send into any chat."""

    entry_id: int
    title: str
    card: Reply


def inline_entries(
    session: Session, text: str, language: str = ORIGINAL_LANGUAGE
) -> list[SharedEntry]:
    """`@bot words`: the entries that match, or the first events of the timeline."""
    if text.strip():
        # The question engine first ("who is yermak"), then search for what is still being
        # typed ("yerm"): the engine knows whole words only.
        asked = answer_question(session=session, text=text)
        ids = [c.id for c in asked.entries if asked.verdict != Verdict.NOT_COVERED]
        if not ids:
            ids = [h.id for h in search(session=session, text=text, limit=INLINE_RESULTS).items]
        ids = ids[:INLINE_RESULTS]
    else:
        page = timeline_page(session=session, flt=TimelineFilter(), limit=INLINE_RESULTS)
        ids = [line.id for line in page.items]
    names = {r.id: r.name for r in titled_refs(session=session, entry_ids=ids, language=language)}
    return [SharedEntry(i, names.get(i, ""), remembered_entry(session, i, language)) for i in ids]


def about_answer(session: Session, language: str = ORIGINAL_LANGUAGE) -> Reply:
    """/about (and /start): what this knowledge base is."""
    return about(overview(session=session, language=language), language=language)


SPOKEN = ("en", "uk")  # the languages an answer's own sentences can be in


@dataclass(frozen=True)
class AskedQuestion:
    """A question's reply, and whether the question is a gap to keep for /gaps."""

    reply: Reply
    gap: bool
    unsure: bool
    language: str


def question_answer(session: Session, text: str, interface: str = "en") -> AskedQuestion:
    """A question in plain words: the answer in the question's language where the bot speaks
    it (a Russian question gets the interface language), entry text as curated."""
    answer = answer_question(session=session, text=text)
    language = answer.language if answer.language in SPOKEN else interface

    def render() -> Reply:
        lead = _lead(session, answer, language)
        shown = in_language(session, answer, language)
        return question_reply(shown, lead, overview(session=session).title, language)

    # The rendered reply too is remembered until the knowledge base changes.
    key = ("question-reply", answer.question.text.casefold(), language)
    reply = remembered(session, key, render, namespace="replies")
    gap = answer.verdict in (Verdict.NOT_COVERED, Verdict.UNSURE)
    return AskedQuestion(reply, gap, answer.verdict == Verdict.UNSURE, answer.language)


def _lead(
    session: Session, answer: QuestionAnswer, language: str
) -> EventDetail | ActorDetail | None:
    """The entry a direct answer is built from, in full, in the answer's language where it is
    translated."""
    if answer.verdict != Verdict.ANSWER or answer.anchor is not None or answer.listing:
        return None
    first = answer.entries[0]
    if first.kind == EntryKind.EVENT:
        return event_detail(session=session, event_id=first.id, language=language)
    if first.kind == EntryKind.ACTOR:
        return actor_detail(session=session, actor_id=first.id, language=language)
    return None
