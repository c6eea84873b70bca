"""Reviewing drafts: /pending, /approve, /reject, and telling their authors."""

from __future__ import annotations

from sqlmodel import Session
from telegram import Update
from telegram.error import TelegramError

from bot.answers import entry_reply
from bot.commands.curation import (
    parse_draft_id,
    parse_reject,
)
from bot.context import deps_of
from bot.gates import Context, admin_args_or_empty, audit_line, log, run_admin
from bot.i18n import N_, translator
from bot.language import chosen_language, reader_language
from bot.presenters import admin as render_admin
from bot.presenters import records as render_records
from bot.presenters.html import Reply, esc
from knowledge.write.curation import Author
from knowledge.write.drafts import (
    approve_draft,
    pending_drafts,
    reject_draft,
)


async def pending(update: Update, context: Context) -> None:
    language = await reader_language(update, context)

    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        drafts, total = pending_drafts(session=session)
        return render_records.drafts(drafts, total, language), f"listed {total} drafts"

    await run_admin(update, context, work, language=language)


async def approve(update: Update, context: Context) -> None:
    text = admin_args_or_empty(update)
    language = await reader_language(update, context)
    notices: list[tuple[int, str, dict[str, object]]] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        draft_id = parse_draft_id(text, "approve")
        result = approve_draft(session, draft_id, approver=author, preview=entry_reply)
        assert result.draft is not None
        values: dict[str, object] = {"id": draft_id, "name": esc(author.name)}
        if result.entry_id:
            template = N_("✅ Your draft {id} was approved by {name} as #{entry}.")
            values["entry"] = result.entry_id
        else:
            template = N_("✅ Your draft {id} was approved by {name}.")
        notices.append((result.draft.author_id, template, values))
        return render_admin.outcome(result, approved_draft=draft_id, language=language), (
            f"approved draft {draft_id}: " + audit_line(result)
        )

    if await run_admin(update, context, work, language=language) is not None:
        await _notify(context, notices)


async def reject(update: Update, context: Context) -> None:
    text = admin_args_or_empty(update)
    language = await reader_language(update, context)
    notices: list[tuple[int, str, dict[str, object]]] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        draft_id, reason = parse_reject(text)
        draft = reject_draft(session, draft_id, decider=author, reason=reason)
        if draft.author_id != author.id:
            values = {"id": draft_id, "name": esc(author.name), "reason": esc(draft.reason)}
            notices.append(
                (
                    draft.author_id,
                    N_("Your draft {id} was rejected by {name}: {reason}"),
                    values,
                )
            )
        reply = render_records.rejected(draft, language)
        return reply, f"rejected draft {draft_id}: {draft.reason}"

    if await run_admin(update, context, work, language=language) is not None:
        await _notify(context, notices)


async def _notify(context: Context, notices: list[tuple[int, str, dict[str, object]]]) -> None:
    """Tell a draft's author what became of it, in their private chat's language (its
    /language choice, else the default: their app's language is not known here); they may
    never have opened a chat with us."""
    default = deps_of(context).settings.default_language
    for user_id, template, values in notices:
        language = await chosen_language(context, user_id) or default
        text = translator(language).gettext(template).format(**values)
        try:
            await context.bot.send_message(user_id, text)
        except TelegramError as exc:
            log.info("could not notify %s about their draft: %s", user_id, exc)
