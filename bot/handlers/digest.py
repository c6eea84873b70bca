"""`/digest preview` and `/digest send` for moderators."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from sqlmodel import Session
from telegram import Update
from telegram.ext import ContextTypes

from bot.chat import ArgumentTooLong, command_text, send
from bot.context import run_db
from bot.delivery.scheduler import run_due, state_of
from bot.gates import moderator_gate
from bot.presenters import digest as render_digest
from bot.presenters.html import Reply, esc
from knowledge.digests.feed import cursor_before
from knowledge.digests.planning import preview
from knowledge.digests.subscriptions import get_subscription
from knowledge.models import as_utc
from knowledge.write.audit import record_audit

PREVIEW_DAYS = 7  # /digest preview without a subscription covers the last week


USAGE = (
    "<b>/digest preview</b> — what your own next digest would hold\n"
    "<b>/digest send</b> — send the digest now to every subscriber with unseen changes"
)


async def digest_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/digest preview | send (moderators)."""
    author = await moderator_gate(update, context)
    if author is None or author.id is None:
        return
    author_id = author.id
    try:
        action = command_text(update).casefold()
    except ArgumentTooLong:
        action = "?"
    if action == "preview":
        await send(
            update,
            context,
            await run_db(context, partial(_preview, context, author_id), write=True),
        )
    elif action == "send":
        report = await run_due(context.application, force=True)
        outcome = f"{report.digests} digests queued"
        await run_db(
            context,
            lambda session: record_audit(
                session=session, user_id=author_id, command="/digest send", outcome=outcome
            ),
            write=True,
        )
        lines = [f"📬 Queued {report.digests} digest{'s' if report.digests != 1 else ''}."]
        if report.nothing_new:
            lines.append(f"{report.nothing_new} subscribers had nothing new for their filter.")
        if not report.digests and not report.nothing_new:
            lines.append("Every subscriber has seen every change already.")
        await send(update, context, Reply([esc(" ".join(lines))]))
    else:
        await send(update, context, Reply([USAGE]))


def _preview(context: ContextTypes.DEFAULT_TYPE, user_id: int, session: Session) -> Reply:
    state = state_of(context.application)
    subscription = get_subscription(session=session, chat_id=user_id)
    if subscription is not None and not subscription.active:
        subscription = None
    since = 0
    if subscription is None:
        week_ago = state.clock.now() - timedelta(days=PREVIEW_DAYS)
        since = cursor_before(session=session, moment=as_utc(week_ago))
    feed, label = preview(session=session, subscription=subscription, since=since)
    if subscription is None:
        intro = (
            f"You have no subscription, so this shows the last {PREVIEW_DAYS} days "
            "of changes, unfiltered."
        )
    else:
        intro = "Your next digest, if it went out now:"
    if feed.empty:
        return Reply([esc(intro) + "\nNothing has changed, so no digest would be sent."])
    parts = render_digest.digest(feed, label, heading="Digest preview")
    return Reply([esc(intro), *parts])
