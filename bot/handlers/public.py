"""What readers ask: /start, /help, /timeline, /event, /who, /sources, /search, inline mode.

Each handler reads like a sentence: parse the arguments, ask `bot.answers` in one unit of work
off the event loop (`run_db`), reply.
"""

from __future__ import annotations

import re
from functools import partial
from uuid import uuid4

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

from bot import answers
from bot.chat import argument_or_refuse, edit_or_send, send
from bot.context import run_db
from bot.i18n import N_, SOURCE_LANGUAGE, translator
from bot.language import reader_language
from bot.presenters.html import Reply, clip, esc, split_blocks, to_plain

Context = ContextTypes.DEFAULT_TYPE

HELP = N_("""<b>Briefing Bot</b> turns a curated news briefing into answers you can ask for.

Ask in your own words, in English, Ukrainian or Russian: <i>Who is Yermak?</i>,
<i>What happened at the Vilnius summit?</i>, <i>Хто такий Єрмак?</i>
(in a group: <code>/ask</code> your question, mention me, or reply to me).

/timeline — dated events, oldest first
  <code>/timeline 2023</code> · <code>/timeline 2022-02..2023-07</code>
  <code>/timeline Yermak</code> · <code>/timeline sanctions</code>
  <code>/timeline briefing</code> — only what the briefing itself says
/event <i>id</i> — one entry in full, with its sources
/who — people and organisations; <code>/who Yermak</code> (Єрмак, typos welcome)
/sources — where the facts come from; <code>/sources</code> <i>number</i>,
  <code>/sources Klymenko Time</code>
/search <i>words</i> — full-text search
/subscribe — digests of what changed · /unsubscribe · /subscription
/language — the bot's language (English · українська)
/about — what this briefing is, where it comes from, what changed lately

Type <code>@{username} words</code> in any chat to share an entry.
Every fact is attributed: ✅ confirmed · 📰 reported · 💬 claimed.
🏛 marks what the curators added from public record; everything else comes from the briefing.
An imprecise date (“Feb 2022”, “c. 2023”) lists after the dated events it may include.""")


def help_text(username: str | None, language: str = SOURCE_LANGUAGE) -> Reply:
    text = translator(language).gettext(HELP)
    return Reply([text.format(username=esc(username or "this_bot"))])


async def start(update: Update, context: Context) -> None:
    """/start, and deep links such as `/start event-12` that open an entry."""
    payload = context.args[0] if context.args else ""
    match = re.fullmatch(r"(?:event|entry)-(\d{1,9})", payload)
    if match:
        await _open_entry(update, context, int(match.group(1)))
        return
    # A newcomer first learns what they are reading, then what they can ask.
    language = await reader_language(update, context)
    overview = await run_db(context, partial(answers.about_answer, language=language))
    guide = help_text(context.bot.username, language)
    await send(update, context, Reply(split_blocks([*overview.parts, *guide.parts])))


async def about(update: Update, context: Context) -> None:
    """/about (and /start): the briefing, what it covers, how much it holds, what changed."""
    language = await reader_language(update, context)
    await send(
        update, context, await run_db(context, partial(answers.about_answer, language=language))
    )


async def help_command(update: Update, context: Context) -> None:
    await send(
        update, context, help_text(context.bot.username, await reader_language(update, context))
    )


async def timeline(update: Update, context: Context) -> None:
    text = await argument_or_refuse(update, context)
    if text is None:
        return
    language = await reader_language(update, context)
    reply = await run_db(context, partial(answers.timeline_answer, text=text, language=language))
    await send(update, context, reply)


async def timeline_button(update: Update, context: Context) -> None:
    """◀ ▶ on a timeline edit the message in place."""
    query = update.callback_query
    assert query is not None and query.data is not None
    language = await reader_language(update, context)
    reply = await run_db(
        context, partial(answers.timeline_button_answer, data=query.data, language=language)
    )
    if reply is None:
        _ = translator(language).gettext
        await query.answer(_("This list is out of date; send /timeline again."))
        return
    await query.answer()
    await edit_or_send(update, context, reply)


async def event(update: Update, context: Context) -> None:
    """/event 12 (or #12)."""
    text = await argument_or_refuse(update, context)
    if text is None:
        return
    language = await reader_language(update, context)
    match = answers.ENTRY_ID.match(text)
    if not match:
        _ = translator(language).gettext
        example = _("Send an entry number: the one after # on each /timeline line.")
        await send(update, context, Reply([example]))
        return
    reply = await run_db(
        context, partial(answers.event_answer, entry_id=int(match.group(1)), language=language)
    )
    await send(update, context, reply)


async def open_button(update: Update, context: Context) -> None:
    """`ev:<id>`, `who:<id>`, `src:<id>`, `open:<id>`: show the entry as a new message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, raw_id = query.data.partition(":")
    await query.answer()
    if raw_id.isdigit():
        await _open_entry(update, context, int(raw_id))


async def _open_entry(update: Update, context: Context, entry_id: int) -> None:
    language = await reader_language(update, context)
    reply = await run_db(
        context, partial(answers.remembered_entry, entry_id=entry_id, language=language)
    )
    await send(update, context, reply)


async def who(update: Update, context: Context) -> None:
    text = await argument_or_refuse(update, context)
    if text is None:
        return
    language = await reader_language(update, context)
    reply = await run_db(context, partial(answers.who_answer, text=text, language=language))
    await send(update, context, reply)


async def sources(update: Update, context: Context) -> None:
    """/sources, /sources <entry id>, /sources <source name>."""
    text = await argument_or_refuse(update, context)
    if text is None:
        return
    language = await reader_language(update, context)
    reply = await run_db(context, partial(answers.sources_answer, text=text, language=language))
    await send(update, context, reply)


async def search(update: Update, context: Context) -> None:
    text = await argument_or_refuse(update, context)
    if text is None:
        return
    language = await reader_language(update, context)
    if not text:
        _ = translator(language).gettext
        example = _("What should I look for? For example <code>/search Vilnius timetable</code>.")
        await send(update, context, Reply([example]))
        return
    reply = await run_db(
        context, partial(answers.search_answer, text=text, language=language), write=True
    )
    await send(update, context, reply)


async def search_button(update: Update, context: Context) -> None:
    """◀ ▶ on search results edit the message in place."""
    query = update.callback_query
    assert query is not None and query.data is not None
    language = await reader_language(update, context)
    reply = await run_db(
        context, partial(answers.search_button_answer, data=query.data, language=language)
    )
    if reply is None:
        _ = translator(language).gettext
        await query.answer(_("This search is out of date; send /search again."))
        return
    await query.answer()
    await edit_or_send(update, context, reply)


async def noop_button(update: Update, _context: Context) -> None:
    """The page label between ◀ and ▶ does nothing but must still be answered."""
    if update.callback_query:
        await update.callback_query.answer()


async def stale_button(update: Update, context: Context) -> None:
    """A button from an older version of the bot, or forged data: say so, change nothing."""
    if update.callback_query:
        _ = translator(await reader_language(update, context)).gettext
        await update.callback_query.answer(_("This button no longer works; send /help."))


async def inline_query(update: Update, context: Context) -> None:
    """`@bot words` in any chat: matching entries to share, as full cards."""
    inline = update.inline_query
    assert inline is not None
    language = await reader_language(update, context)
    shared = await run_db(
        context, partial(answers.inline_entries, text=clip(inline.query, 200), language=language)
    )
    results = [
        InlineQueryResultArticle(
            id=f"{entry.entry_id}-{uuid4().hex[:8]}",
            title=clip(entry.title, 100) or f"#{entry.entry_id}",
            description=clip(to_plain(entry.card.parts[0]), 120),
            input_message_content=InputTextMessageContent(
                entry.card.parts[0],
                parse_mode=ParseMode.HTML,
                # Not link_preview_options=None: that breaks PTB's Defaults merging.
            ),
        )
        for entry in shared
    ]
    await inline.answer(results, cache_time=30, is_personal=False)


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
    _ = translator(await reader_language(update, context)).gettext
    unknown = _("I don't know {command}. /help lists what I can do.")
    await send(update, context, Reply([unknown.format(command=esc(clip(command, 40)))]))
