"""Reviewing drafts: /pending, /approve, /reject, and telling their authors."""

from __future__ import annotations

from sqlmodel import Session
from telegram import Bot, Update
from telegram.error import TelegramError

from bot.answers import entry_reply
from bot.commands.curation import (
    parse_draft_id,
    parse_reject,
)
from bot.gates import Context, admin_args_or_empty, audit_line, log, run_admin
from bot.presenters import admin as render_admin
from bot.presenters.html import Reply, esc
from knowledge.write.curation import Author
from knowledge.write.drafts import (
    approve_draft,
    pending_drafts,
    reject_draft,
)


async def pending(update: Update, context: Context) -> None:
    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        drafts, total = pending_drafts(session=session)
        return render_admin.drafts(drafts, total), f"listed {total} drafts"

    await run_admin(update, context, work)


async def approve(update: Update, context: Context) -> None:
    text = admin_args_or_empty(update)
    notices: list[tuple[int, str]] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        draft_id = parse_draft_id(text, "approve")
        result = approve_draft(session, draft_id, approver=author, preview=entry_reply)
        assert result.draft is not None
        where = f" as #{result.entry_id}" if result.entry_id else ""
        notices.append(
            (
                result.draft.author_id,
                f"✅ Your draft {draft_id} was approved by {esc(author.name)}{where}.",
            )
        )
        return render_admin.outcome(result, approved_draft=draft_id), (
            f"approved draft {draft_id}: " + audit_line(result)
        )

    if await run_admin(update, context, work) is not None:
        await _notify(context.bot, notices)


async def reject(update: Update, context: Context) -> None:
    text = admin_args_or_empty(update)
    notices: list[tuple[int, str]] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        draft_id, reason = parse_reject(text)
        draft = reject_draft(session, draft_id, decider=author, reason=reason)
        if draft.author_id != author.id:
            notices.append(
                (
                    draft.author_id,
                    f"Your draft {draft_id} was rejected by "
                    f"{esc(author.name)}: {esc(draft.reason)}",
                )
            )
        return render_admin.rejected(draft), f"rejected draft {draft_id}: {draft.reason}"

    if await run_admin(update, context, work) is not None:
        await _notify(context.bot, notices)


async def _notify(bot: Bot, notices: list[tuple[int, str]]) -> None:
    """Tell a draft's author what became of it; they may never have opened a chat with us."""
    for user_id, text in notices:
        try:
            await bot.send_message(user_id, text)
        except TelegramError as exc:
            log.info("could not notify %s about their draft: %s", user_id, exc)
