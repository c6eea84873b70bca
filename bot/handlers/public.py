"""What subscribers ask: /start, /help, /timeline, /event, /who, /sources, /search, inline mode."""

from __future__ import annotations

import logging
import re
from uuid import uuid4

from sqlmodel import Session, select
from telegram import (
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

import knowledge.read.search as search_mod
from bot.chat import argument_or_refuse, edit_or_send, send
from bot.context import db_session, read_session
from bot.presenters.entries import (
    actor_card,
    actor_choices,
    actors_overview,
    entry_citations,
    event_card,
    search_page,
    source_card,
    sources_overview,
)
from bot.presenters.entries import (
    timeline_page as render_timeline_page,
)
from bot.presenters.html import Reply, clip, esc, to_plain
from knowledge.models import EntryKind, SavedQuery
from knowledge.read.actors import actors_by_kind, find_actors
from knowledge.read.entries import (
    actor_detail,
    citations_of,
    entry_kind,
    event_detail,
    source_detail,
    titles,
)
from knowledge.read.sources import find_source, source_overview
from knowledge.read.timeline import (
    FilterError,
    PageKey,
    TimelineFilter,
    decode_filter,
    resolve_timeline_filter,
    timeline_page,
)
from knowledge.storage.cache import remembered

log = logging.getLogger(__name__)

PAGE_SIZE = 10
SEARCH_PAGE_SIZE = 8
SOURCES_SHOWN = 40
_ID_RE = re.compile(r"^#?(\d{1,9})$")
# Button data is whatever a client sends: parse it strictly; anything else is out of date.
_TIMELINE_BUTTON = re.compile(r"tl:([a-z0-9-]{1,24}):(\d{1,7})(?::([ab0-9.]{1,24}))?")
_SEARCH_BUTTON = re.compile(r"sr:(\d{1,9}):(\d{1,7})")

HELP = """<b>Briefing Bot</b> turns a curated news briefing into answers you can ask for.

/timeline — dated events, oldest first
  <code>/timeline 2023</code> · <code>/timeline 2022-02..2023-07</code>
  <code>/timeline Yermak</code> · <code>/timeline sanctions</code>
/event <i>id</i> — one entry in full, with its sources
/who — people and organisations; <code>/who Yermak</code> (Єрмак, typos welcome)
/sources — where the facts come from; <code>/sources 12</code>,
  <code>/sources Klymenko Time</code>
/search <i>words</i> — full-text search
/subscribe — digests of what changed · /unsubscribe · /subscription

Type <code>@{username} words</code> in any chat to share an entry.
Every fact is attributed: ✅ confirmed · 📰 reported · 💬 claimed."""


def help_text(username: str | None) -> Reply:
    return Reply([HELP.replace("{username}", esc(username or "this_bot"))])


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start, and deep links such as `/start event-12` that open an entry."""
    payload = context.args[0] if context.args else ""
    match = re.fullmatch(r"(?:event|entry)-(\d{1,9})", payload)
    if match:
        await _open_entry(update, context, int(match.group(1)))
        return
    await send(update, context, help_text(context.bot.username))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await send(update, context, help_text(context.bot.username))


async def timeline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = await argument_or_refuse(update, context)
    if text is None:
        return
    async with read_session(context) as session:
        try:
            flt = resolve_timeline_filter(session=session, text=text)
        except FilterError as exc:
            reply = Reply([f"{esc(exc)}.\nTry <code>/timeline 2023</code>, "
                           "<code>/timeline 2022-02..2023-07</code> or "
                           "<code>/timeline Yermak</code>."])  # fmt: skip
        else:
            reply = _timeline_reply(session, flt)
    await send(update, context, reply)


def _timeline_reply(
    session: Session,
    flt: TimelineFilter,
    offset: int = 0,
    key: PageKey | None = None,
) -> Reply:
    """A rendered timeline page; the first page is what nearly everybody asks for."""

    def build() -> Reply:
        page = timeline_page(session=session, flt=flt, offset=offset, limit=PAGE_SIZE, key=key)
        return render_timeline_page(page, flt.label, flt.code())

    memo_key = ("timeline", flt.code(), flt.start, flt.end, offset, key)
    return remembered(session, memo_key, build, shelf="replies")


async def timeline_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """◀ ▶ on a timeline: `tl:<filter>:<offset>[:<page key>]` edits the message in place."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = _TIMELINE_BUTTON.fullmatch(query.data)
    key = PageKey.parse(match.group(3)) if match and match.group(3) else None
    async with read_session(context) as session:
        flt = decode_filter(session=session, code=match.group(1)) if match else None
        if match is None or flt is None or (match.group(3) and key is None):
            await query.answer("This list is out of date; send /timeline again.")
            return
        reply = _timeline_reply(session, flt, int(match.group(2)), key)
    await query.answer()
    await edit_or_send(update, context, reply)


async def event(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/event 12 (or #12)."""
    text = await argument_or_refuse(update, context)
    if text is None:
        return
    match = _ID_RE.match(text)
    if not match:
        example = "Send an entry number, for example <code>/event 12</code>; /timeline lists them."
        await send(update, context, Reply([example]))
        return
    await _open_entry(update, context, int(match.group(1)))


async def open_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`ev:<id>`, `who:<id>`, `src:<id>`, `open:<id>`: show the entry as a new message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, raw_id = query.data.partition(":")
    await query.answer()
    if raw_id.isdigit():
        await _open_entry(update, context, int(raw_id))


async def _open_entry(update: Update, context: ContextTypes.DEFAULT_TYPE, entry_id: int) -> None:
    async with read_session(context) as session:
        reply = remembered_entry(session, entry_id)
    await send(update, context, reply)


def remembered_entry(session: Session, entry_id: int) -> Reply:
    """`entry_reply`, from the cache of rendered replies when it is there."""
    return remembered(
        session, ("entry", entry_id), lambda: entry_reply(session, entry_id), shelf="replies"
    )


def entry_reply(session: Session, entry_id: int) -> Reply:
    """Any entry by id, rendered by its kind; an unknown id gets a clear answer."""
    kind = entry_kind(session=session, entry_id=entry_id)
    if kind == EntryKind.EVENT:
        detail = event_detail(session=session, event_id=entry_id)
        if detail:
            return event_card(detail)
    elif kind == EntryKind.ACTOR:
        actor = actor_detail(session=session, actor_id=entry_id)
        if actor:
            return actor_card(actor)
    elif kind == EntryKind.SOURCE:
        source = source_detail(session=session, source_id=entry_id)
        if source:
            return source_card(source)
    return Reply([f"There is no entry #{entry_id}. /timeline lists the events."])


async def who(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = await argument_or_refuse(update, context)
    if text is None:
        return
    async with read_session(context) as session:
        reply = remembered(
            session, ("who", text), lambda: who_reply(session, text), shelf="replies"
        )
    await send(update, context, reply)


def who_reply(session: Session, text: str) -> Reply:
    if not text:
        return actors_overview(actors_by_kind(session=session))
    matches = find_actors(session=session, query=text, limit=5)
    if not matches:
        return Reply([f"I know nobody called “{esc(clip(text, 60))}”. "
                      "Send /who to see everyone."])  # fmt: skip
    top = matches[0]
    close = [m for m in matches if top.score - m.score < 5]
    if len(close) > 1:
        return actor_choices(text, close)
    detail = actor_detail(session=session, actor_id=top.id)
    assert detail is not None
    return actor_card(detail)


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/sources, /sources <entry id>, /sources <source name>."""
    text = await argument_or_refuse(update, context)
    if text is None:
        return
    async with read_session(context) as session:
        reply = remembered(
            session, ("sources", text), lambda: sources_reply(session, text), shelf="replies"
        )
    await send(update, context, reply)


def sources_reply(session: Session, text: str) -> Reply:
    if not text:
        # A large knowledge base has hundreds of sources: list the most cited, not all.
        every = source_overview(session=session)
        return sources_overview(every[:SOURCES_SHOWN], total=len(every))
    match = _ID_RE.match(text)
    if match:
        entry_id = int(match.group(1))
        kind = entry_kind(session=session, entry_id=entry_id)
        if kind == EntryKind.SOURCE:
            return entry_reply(session, entry_id)
        if kind is None:
            return Reply([f"There is no entry #{entry_id}."])
        title = titles(session=session, entry_ids=[entry_id]).get(entry_id, "")
        citations = citations_of(session=session, entry_id=entry_id)
        return entry_citations(entry_id, title, citations)
    source = find_source(session=session, name=text)
    if source is None:
        return Reply([f"No source is called “{esc(clip(text, 60))}”. "
                      "Send /sources for the list."])  # fmt: skip
    return entry_reply(session, source.id)


async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = await argument_or_refuse(update, context)
    if text is None:
        return
    if not text:
        example = "What should I look for? For example <code>/search Vilnius timetable</code>."
        await send(update, context, Reply([example]))
        return
    async with db_session(context) as session:
        # Search before saving the text: a session that has written bypasses the answer cache.
        page = search_mod.search(session=session, text=text, limit=SEARCH_PAGE_SIZE)
        query_id = saved_query_id(session, text)
        reply = search_page(text, query_id, page)
    await send(update, context, reply)


def saved_query_id(session: Session, text: str) -> int:
    """An id for a search text, so ◀ ▶ buttons can name it within 64 bytes of callback data."""
    text = text[:300]
    existing = session.exec(select(SavedQuery.id).where(SavedQuery.text == text)).first()
    if existing is not None:
        return existing
    saved = SavedQuery(text=text)
    session.add(saved)
    session.flush()
    assert saved.id is not None
    return saved.id


async def search_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """◀ ▶ on search results: `sr:<saved query id>:<offset>` edits the message in place."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = _SEARCH_BUTTON.fullmatch(query.data)
    async with db_session(context) as session:
        saved = session.get(SavedQuery, int(match.group(1))) if match else None
        if match is None or saved is None:
            await query.answer("This search is out of date; send /search again.")
            return
        page = search_mod.search(
            session=session, text=saved.text, offset=int(match.group(2)), limit=SEARCH_PAGE_SIZE
        )
        reply = search_page(saved.text, int(match.group(1)), page)
    await query.answer()
    await edit_or_send(update, context, reply)


async def noop_button(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """The page label between ◀ and ▶ does nothing but must still be answered."""
    if update.callback_query:
        await update.callback_query.answer()


async def stale_button(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button from an older version of the bot, or forged data: say so, change nothing."""
    if update.callback_query:
        await update.callback_query.answer("This button no longer works; send /help.")


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`@bot words` in any chat: matching entries to share, as full cards."""
    inline = update.inline_query
    assert inline is not None
    text = clip(inline.query, 200)
    results = []
    async with read_session(context) as session:
        if text.strip():
            hits = search_mod.search(session=session, text=text, limit=10).items
            ids = [h.id for h in hits]
        else:
            ids = [e.id for e in timeline_page(
                session=session, flt=TimelineFilter(), limit=10).items]  # fmt: skip
        names = titles(session=session, entry_ids=ids)
        for entry_id in ids:
            reply = remembered_entry(session, entry_id)
            title = names.get(entry_id, "")
            results.append(
                InlineQueryResultArticle(
                    id=f"{entry_id}-{uuid4().hex[:8]}",
                    title=clip(title, 100) or f"#{entry_id}",
                    description=clip(to_plain(reply.parts[0]), 120),
                    input_message_content=InputTextMessageContent(
                        reply.parts[0],
                        parse_mode=ParseMode.HTML,
                        # Not link_preview_options=None: that breaks PTB's Defaults merging.
                    ),
                )
            )
    await inline.answer(results, cache_time=30, is_personal=False)


async def fallback_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Plain text in a private chat: treat it as a search, since that's what people mean."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or chat.type != ChatType.PRIVATE:
        return
    await send(update, context, Reply(["I answer commands. Try /timeline, /who Yermak or "
                                       "/search Vilnius — /help lists them all."]))  # fmt: skip


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split()[0]
    addressed = bool(context.bot.username) and command.lower().endswith(
        "@" + (context.bot.username or "").lower()
    )
    # Commands for other bots (`/start@otherbot`) are none of our business, and in a group a
    # bare `/foo` is most likely another bot's: answer there only when addressed by name.
    if ("@" in command or message.chat.type != ChatType.PRIVATE) and not addressed:
        return
    await send(update, context, Reply([f"I don't know {esc(clip(command, 40))}. "
                                       "/help lists what I can do."]))  # fmt: skip
