"""/export and /import: the knowledge base as a YAML file, and a file applied as a whole."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Document, Update
from telegram.error import TelegramError

from bot.chat import send
from bot.commands.curation import (
    MAX_CHAT_IMPORT_BYTES,
    import_change,
    too_big,
)
from bot.context import deps_of, run_db
from bot.gates import Context, action_of, audit_action, log, moderator_gate, perform, submit_work
from bot.i18n import N_, number, translator
from bot.language import reader_language
from bot.presenters import admin as render_admin
from bot.presenters.html import Reply
from knowledge.write.importer import export_briefing
from knowledge.write.records import CurationError

IMPORT_HOW = N_(
    "Send a YAML file (as exported by /export) with the caption <code>/import</code>, "
    "or reply <code>/import</code> to a message that has one."
)


async def export(update: Update, context: Context) -> None:
    author = await moderator_gate(update, context)
    chat = update.effective_chat
    if author is None or chat is None:
        return
    deps = deps_of(context)
    language = await reader_language(update, context)
    text = await run_db(context, export_briefing)
    data = text.encode("utf-8")
    name = f"briefing-export-{datetime.now(UTC):%Y%m%d-%H%M}.yaml"
    caption = translator(language).gettext(
        "The knowledge base as YAML ({size} bytes). Send it back with the "
        "caption /import to load it."
    )
    try:
        await context.bot.send_document(
            chat.id,
            document=data,
            filename=name,
            caption=caption.format(size=number(len(data), language)),
        )
    finally:
        assert author.id is not None
        await audit_action(
            deps, author.id, action_of(update), f"ok: sent {name} ({len(data)} bytes)"
        )


def _document_of(update: Update) -> Document | None:
    message = update.effective_message
    if message is None:
        return None
    if message.document is not None:
        return message.document
    replied = message.reply_to_message
    return replied.document if replied is not None else None


async def import_command(update: Update, context: Context) -> None:
    """A YAML file with the caption /import, or /import in reply to one."""
    author = await moderator_gate(update, context)
    if author is None:
        return
    deps = deps_of(context)
    language = await reader_language(update, context)
    document = _document_of(update)
    if document is None:
        assert author.id is not None
        await audit_action(deps, author.id, action_of(update), "usage: no file")
        await send(update, context, Reply([translator(language).gettext(IMPORT_HOW)]))
        return
    name = document.file_name or "import.yaml"
    try:
        data = await _download(context, document, name)
    except CurationError as exc:
        assert author.id is not None
        await audit_action(deps, author.id, action_of(update), f"invalid: {exc}")
        await send(update, context, render_admin.problem(exc, language))
        return
    work = submit_work(
        lambda _s: import_change(name, data), deps.settings.review_required, language=language
    )
    await send(update, context, await perform(deps, update, author, work, language=language))


async def _download(context: Context, document: Document, name: str) -> bytes:
    limit = MAX_CHAT_IMPORT_BYTES
    if document.file_size is not None and document.file_size > limit:
        # Refused before downloading: the size is in the message already.
        raise too_big(name, document.file_size)
    try:
        file = await context.bot.get_file(document.file_id)
        return bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("could not download %s: %s", name, exc)
        raise CurationError(
            N_("I could not download {name}; please send it again"), name=name
        ) from None
