"""/propose: a moderator hands the bot a briefing (pasted, replied to, forwarded or as a file);
the bot proposes entries as drafts, and moderators approve, edit or reject them.

Reading the text runs in a worker thread (knowledge/write/proposals/extract.py); saving the
drafts is one unit of work with its audit record. Approved proposals go through the normal
write path, and with REVIEW_REQUIRED on to a second moderator's /approve.
"""

from __future__ import annotations

import asyncio
import warnings
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session
from telegram import Document, ReplyParameters, Update
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.chat import send
from bot.commands.propose import arguments_of, origin_of, split_source
from bot.context import deps_of, run_db
from bot.gates import Context, action_of, audit_action, log, moderator_gate, perform
from bot.i18n import N_, explained, translator
from bot.language import reader_language
from bot.presenters import proposals as render
from bot.presenters.html import Reply, esc
from knowledge.language.documents import (
    MAX_DOCUMENT_BYTES,
    DocumentError,
    document_text,
)
from knowledge.language.names import strip_controls
from knowledge.write.curation import Author
from knowledge.write.proposals.extract import propose
from knowledge.write.proposals.model import Batch, Origin
from knowledge.write.proposals.review import (
    PROPOSAL_FIELDS,
    approve_batch,
    approve_proposal,
    batch_drafts,
    edit_proposal,
    proposal,
    reject_proposal,
    save_batch,
)
from knowledge.write.proposals.views import ProposalView, proposal_views
from knowledge.write.records import CurationError

SOURCE, VALUE = range(2)
FLOW_TIMEOUT = 600  # seconds of silence after which a question about a proposal is dropped
WAITING_KEY = "propose"  # user_data[WAITING_KEY][chat_id]: a text waiting for its source
EDIT_KEY = "propose_edit"  # user_data[EDIT_KEY][chat_id]: (proposal id, field) being edited
FORWARDS_KEY = "propose_forwards"  # user_data[FORWARDS_KEY][message id]: an offered forward
MAX_FORWARDS_KEPT = 20


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


def _store(context: Context, key: str) -> dict[Any, Any]:
    assert context.user_data is not None
    store: dict[Any, Any] = context.user_data.setdefault(key, {})
    return store


async def propose_command(update: Update, context: Context) -> int:
    """/propose with pasted text, in reply to a message or a forwarded post, or as a file's
    caption. Asks for the source when nothing tells it."""
    author = await moderator_gate(update, context)
    message = update.effective_message
    if author is None or message is None:
        return ConversationHandler.END
    assert author.id is not None
    deps = deps_of(context)
    language = await reader_language(update, context)
    _ = translator(language).gettext
    arguments = arguments_of(message)
    replied = message.reply_to_message
    document = message.document or (replied.document if replied else None)
    if document is not None:
        name = arguments.split("\n", 1)[0].strip()[:200]
        try:
            text = await _read_document(context, document)
        except (CurationError, DocumentError) as exc:
            await audit_action(deps, author.id, action_of(update), f"invalid: {exc}")
            said = _("⚠️ {problem} Nothing was saved.").format(problem=_escape(exc, language))
            await send(update, context, Reply([said]))
            return ConversationHandler.END
        origin = origin_of(replied if replied and replied.document else message, name)
    elif replied is not None and (replied.text or replied.caption):
        text = strip_controls(replied.text or replied.caption or "")
        origin = origin_of(replied, arguments.split("\n", 1)[0].strip()[:200])
    else:
        name, text = split_source(arguments)
        origin = origin_of(message, name)
    if not text.strip():
        await audit_action(deps, author.id, action_of(update), "usage: no text")
        await send(update, context, Reply([_(render.HOW)]))
        return ConversationHandler.END
    if origin is None:
        _store(context, WAITING_KEY)[_chat_id(update)] = {
            "text": text,
            "published": message.date.date().isoformat(),
        }
        await send(update, context, Reply([_(render.ASK_SOURCE)]))
        return SOURCE
    await _propose(update, context, author, text, origin)
    return ConversationHandler.END


def _escape(exc: Exception, language: str) -> str:
    text = explained(exc, language)
    return esc(text if text.endswith(".") else text + ".")


async def _read_document(context: Context, document: Document) -> str:
    name = document.file_name or "briefing.txt"
    if document.file_size is not None and document.file_size > MAX_DOCUMENT_BYTES:
        raise DocumentError(  # refused before downloading: the size is in the message
            N_("{name} is {size} bytes; a briefing may be up to {limit} KB"),
            name=name[:60],
            size=f"{document.file_size:,}",
            limit=MAX_DOCUMENT_BYTES // 1000,
        )
    if not name.lower().endswith((".txt", ".md", ".html", ".htm")):
        raise DocumentError(N_("{name} is not a .txt, .md or .html file"), name=name[:60])
    try:
        file = await context.bot.get_file(document.file_id)
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("could not download %s: %s", name, exc)
        raise CurationError(
            N_("I could not download {name}; please send it again"), name=name
        ) from None
    return await asyncio.to_thread(document_text, data, name)


async def source_answer(update: Update, context: Context) -> int:
    """The source's name, asked for after /propose."""
    author = await moderator_gate(update, context)
    message = update.effective_message
    waiting = _store(context, WAITING_KEY).pop(_chat_id(update), None)
    if author is None or message is None or waiting is None:
        return ConversationHandler.END
    name = " ".join((message.text or "").split())[:200]
    published = date.fromisoformat(waiting["published"])
    await _propose(update, context, author, waiting["text"], Origin(name, published=published))
    return ConversationHandler.END


async def _propose(
    update: Update, context: Context, author: Author, text: str, origin: Origin
) -> None:
    """Read the text off the event loop, keep the proposals as drafts, show them."""
    deps = deps_of(context)
    language = await reader_language(update, context)
    batch: Batch = await run_db(context, lambda session: propose(session, text, origin))
    shown: list[ProposalView] = []

    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        drafts = save_batch(session, batch, author=author)
        shown.extend(proposal_views(session, drafts))
        summary = render.batch_summary(
            shown,
            source=origin.source,
            sentences=batch.sentences,
            review=deps.settings.review_required,
            language=language,
        )
        first = shown[0].batch if shown else None
        return summary, f"proposed {len(shown)} drafts from {origin.source[:80]} (batch {first})"

    await send(update, context, await perform(deps, update, author, work, language=language))
    await _show_cards(update, context, shown, 0, language)


async def _show_cards(
    update: Update, context: Context, views: list[ProposalView], start: int, language: str
) -> None:
    end = start + render.CARDS_AT_ONCE
    for view in views[start:end]:
        await send(update, context, render.card(view, language))
    if len(views) > end:
        more = render.more_button(views[0].batch, end, len(views) - end, language)
        await send(update, context, more)


def _number(data: str, index: int) -> int:
    return int(data.split(":")[index])


async def _button_work(update: Update, context: Context, work: Any, language: str) -> Reply | None:
    """A proposal button: rights, the unit of work with its audit, then the answer."""
    query = update.callback_query
    assert query is not None
    author = await moderator_gate(update, context)
    if author is None:
        return None
    await query.answer()
    return await perform(deps_of(context), update, author, work, language=language)


async def approve_button(update: Update, context: Context) -> None:
    assert update.callback_query is not None and update.callback_query.data
    draft_id = _number(update.callback_query.data, 2)
    review = deps_of(context).settings.review_required
    language = await reader_language(update, context)
    card: list[Reply] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        done = approve_proposal(session, draft_id, approver=author, review=review)
        views = proposal_views(session, done.applied)
        card.append(render.card(views[-1], language))
        made = ", ".join(f"#{i}" for i in done.entry_ids)
        what = "sent for review" if review else f"published {made}"
        return render.approved(views, done.entry_ids, review=review, language=language), (
            f"approved proposals {', '.join(str(v.id) for v in views)}: {what}"
        )

    reply = await _button_work(update, context, work, language)
    if reply is not None:
        await _replace_card(update, card)
        await send(update, context, reply)


async def reject_button(update: Update, context: Context) -> None:
    assert update.callback_query is not None and update.callback_query.data
    draft_id = _number(update.callback_query.data, 2)
    language = await reader_language(update, context)
    _ = translator(language).gettext
    card: list[Reply] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        draft = reject_proposal(session, draft_id, decider=author)
        card.append(render.card(proposal_views(session, [draft])[0], language))
        said = _("✖ Proposal {id} rejected.").format(id=draft_id)
        return Reply([said]), f"rejected proposal {draft_id}"

    reply = await _button_work(update, context, work, language)
    if reply is not None:
        await _replace_card(update, card)
        await send(update, context, reply)


async def _replace_card(update: Update, card: list[Reply]) -> None:
    """Show the card's new state in place (its buttons go: it can't be decided twice)."""
    query = update.callback_query
    if not card or query is None or query.message is None or len(card[0].parts) != 1:
        return
    try:
        await query.edit_message_text(card[0].parts[0], reply_markup=card[0].keyboard)
    except TelegramError as exc:
        log.debug("could not update the proposal card: %s", exc)


async def edit_button(update: Update, context: Context) -> None:
    assert update.callback_query is not None and update.callback_query.data
    draft_id = _number(update.callback_query.data, 2)
    language = await reader_language(update, context)

    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        draft = proposal(session, draft_id)
        if draft.state != "proposed":
            raise CurationError(N_("proposal {id} is already decided"), id=draft_id)
        reply = render.fields(proposal_views(session, [draft])[0], language)
        return reply, f"chose to edit {draft_id}"

    reply = await _button_work(update, context, work, language)
    if reply is not None:
        await send(update, context, reply)


async def field_button(update: Update, context: Context) -> int:
    """pp:f:ID:FIELD — ask for the field's new value; the next text is the answer."""
    query = update.callback_query
    assert query is not None and query.data
    _, _, number, field = query.data.split(":")
    if await moderator_gate(update, context) is None:
        return ConversationHandler.END
    await query.answer()
    if not any(field in fields for fields in PROPOSAL_FIELDS.values()):
        return ConversationHandler.END
    _store(context, EDIT_KEY)[_chat_id(update)] = (int(number), field)
    language = await reader_language(update, context)
    await send(update, context, render.ask_value(int(number), field, language))
    return VALUE


async def value_answer(update: Update, context: Context) -> int:
    author = await moderator_gate(update, context)
    message = update.effective_message
    target = _store(context, EDIT_KEY).pop(_chat_id(update), None)
    if author is None or message is None or target is None:
        return ConversationHandler.END
    draft_id, field = target
    value = (message.text or "")[:500]
    language = await reader_language(update, context)
    _ = translator(language).gettext
    card: list[Reply] = []

    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        draft = edit_proposal(session, draft_id, field, value)
        card.append(render.card(proposal_views(session, [draft])[0], language))
        said = _("✏️ Proposal {id}: {field} changed.").format(id=draft_id, field=field)
        return Reply([said]), f"edited proposal {draft_id}: {field}"

    reply = await perform(deps_of(context), update, author, work, language=language)
    await send(update, context, reply)
    for reply in card:
        await send(update, context, reply)
    return ConversationHandler.END


async def approve_all_button(update: Update, context: Context) -> None:
    assert update.callback_query is not None and update.callback_query.data
    batch_id = _number(update.callback_query.data, 2)
    review = deps_of(context).settings.review_required
    language = await reader_language(update, context)

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        done = approve_batch(session, batch_id, approver=author, review=review)
        reply = render.batch_approved(
            done.approved, done.skipped, review=review, language=language
        )
        return reply, (
            f"approved all of batch {batch_id}: {len(done.approved)} approved, "
            f"{len(done.skipped)} left"
        )

    reply = await _button_work(update, context, work, language)
    if reply is not None:
        await send(update, context, reply)


async def more_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and query.data
    batch_id, start = _number(query.data, 2), _number(query.data, 3)
    if await moderator_gate(update, context) is None:
        return
    await query.answer()
    views = await run_db(
        context, lambda session: proposal_views(session, batch_drafts(session, batch_id))
    )
    await _show_cards(update, context, views, start, await reader_language(update, context))


async def offer_forward(update: Update, context: Context) -> None:
    """A moderator forwarded a post here: offer to propose entries from it (bot/app.py asks
    `gates.moderator_forward` first)."""
    message = update.effective_message
    if message is None:
        return
    forwards = _store(context, FORWARDS_KEY)
    forwards[message.message_id] = {"text": message.text or message.caption or ""}
    origin = origin_of(message, "")
    if origin is not None:
        forwards[message.message_id] |= {
            "source": origin.source, "kind": origin.kind, "url": origin.url,
            "published": origin.published.isoformat() if origin.published else None,
        }  # fmt: skip
    while len(forwards) > MAX_FORWARDS_KEPT:
        forwards.pop(next(iter(forwards)))
    offer = render.forward_offer(message.message_id, await reader_language(update, context))
    await context.bot.send_message(
        message.chat_id,
        offer.parts[0],
        reply_markup=offer.keyboard,
        reply_parameters=ReplyParameters(message.message_id),
    )


async def forward_button(update: Update, context: Context) -> int:
    """pp:fw:MESSAGE — propose entries from the forwarded post offered earlier."""
    query = update.callback_query
    assert query is not None and query.data
    author = await moderator_gate(update, context)
    if author is None:
        return ConversationHandler.END
    kept = _store(context, FORWARDS_KEY).pop(_number(query.data, 2), None)
    _ = translator(await reader_language(update, context)).gettext
    if kept is None:
        await query.answer(_("This offer has expired; forward the post again."))
        return ConversationHandler.END
    await query.answer()
    published = date.fromisoformat(kept["published"]) if kept.get("published") else None
    if "source" not in kept:  # forwarded from a person or a group: ask whose it is
        _store(context, WAITING_KEY)[_chat_id(update)] = {
            "text": kept["text"],
            "published": (published or datetime.now(UTC).date()).isoformat(),
        }
        await send(update, context, Reply([_(render.ASK_SOURCE)]))
        return SOURCE
    origin = Origin(kept["source"], kept["kind"], kept["url"], published)
    await _propose(update, context, author, kept["text"], origin)
    return ConversationHandler.END


async def cancel(update: Update, context: Context) -> int:
    _store(context, WAITING_KEY).pop(_chat_id(update), None)
    _store(context, EDIT_KEY).pop(_chat_id(update), None)
    _ = translator(await reader_language(update, context)).gettext
    await send(update, context, Reply([_("Cancelled. Nothing was changed.")]))
    return ConversationHandler.END


def propose_conversation() -> ConversationHandler[Any]:
    """/propose and the questions it may ask (the source, a field's new value): while one is
    open, the moderator's next text is its answer, before any other text handler."""
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # Buttons belong to the moderator's conversation in this chat, not to one message.
        warnings.filterwarnings("ignore", message=".*per_message=False.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[
                CommandHandler("propose", propose_command),
                MessageHandler(
                    filters.Document.ALL & filters.CaptionRegex(r"^/propose(@\w+)?(\s|$)"),
                    propose_command,
                ),
                CallbackQueryHandler(field_button, pattern=r"^pp:f:\d{1,9}:[a-z_]{1,20}$"),
                CallbackQueryHandler(forward_button, pattern=r"^pp:fw:\d{1,12}$"),
            ],
            states={
                SOURCE: [MessageHandler(text, source_answer)],
                VALUE: [MessageHandler(text, value_answer)],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            allow_reentry=True,
            conversation_timeout=FLOW_TIMEOUT,
            name="propose_flow",
        )


def register_buttons(application: Any) -> None:
    """The proposal buttons that need no answer typed afterwards."""
    for callback, pattern in (
        (approve_button, r"^pp:a:\d{1,9}$"),
        (reject_button, r"^pp:r:\d{1,9}$"),
        (edit_button, r"^pp:e:\d{1,9}$"),
        (approve_all_button, r"^pp:all:\d{1,9}$"),
        (more_button, r"^pp:m:\d{1,9}:\d{1,5}$"),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=pattern))
