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
from bot.i18n import N_, number, translator
from bot.language import reader_language
from bot.presenters import digest as render_digest
from bot.presenters.html import Reply, esc
from knowledge.digests.feed import cursor_before
from knowledge.digests.planning import preview
from knowledge.digests.subscriptions import get_subscription
from knowledge.models import as_utc
from knowledge.write.audit import record_audit

PREVIEW_DAYS = 7  # /digest preview without a subscription covers the last week


USAGE = N_(
    "<b>/digest preview</b> — what your own next digest would hold\n"
    "<b>/digest send</b> — send the digest now to every subscriber with unseen changes"
)


async def digest_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/digest preview | send (moderators)."""
    author = await moderator_gate(update, context)
    if author is None or author.id is None:
        return
    author_id = author.id
    language = await reader_language(update, context)
    tr = translator(language)
    try:
        action = command_text(update).casefold()
    except ArgumentTooLong:
        action = "?"
    if action == "preview":
        await send(
            update,
            context,
            await run_db(context, partial(_preview, context, author_id, language), write=True),
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
        queued = tr.ngettext(
            "📬 Queued {count} digest.", "📬 Queued {count} digests.", report.digests
        )
        lines = [queued.format(count=number(report.digests, language))]
        if report.nothing_new:
            nothing = tr.ngettext(
                "{count} subscriber had nothing new for their filter.",
                "{count} subscribers had nothing new for their filter.",
                report.nothing_new,
            )
            lines.append(nothing.format(count=number(report.nothing_new, language)))
        if not report.digests and not report.nothing_new:
            lines.append(tr.gettext("Every subscriber has seen every change already."))
        await send(update, context, Reply([esc(" ".join(lines))]))
    else:
        await send(update, context, Reply([tr.gettext(USAGE)]))


def _preview(
    context: ContextTypes.DEFAULT_TYPE, user_id: int, language: str, session: Session
) -> Reply:
    state = state_of(context.application)
    subscription = get_subscription(session=session, chat_id=user_id)
    if subscription is not None and not subscription.active:
        subscription = None
    since = 0
    if subscription is None:
        week_ago = state.clock.now() - timedelta(days=PREVIEW_DAYS)
        since = cursor_before(session=session, moment=as_utc(week_ago))
    feed, label = preview(session=session, subscription=subscription, since=since)
    tr = translator(language)
    if subscription is None:
        intro = tr.ngettext(
            "You have no subscription, so this shows the last {days} day of changes, unfiltered.",
            "You have no subscription, so this shows the last {days} days of changes, unfiltered.",
            PREVIEW_DAYS,
        ).format(days=number(PREVIEW_DAYS, language))
    else:
        intro = tr.gettext("Your next digest, if it went out now:")
    if feed.empty:
        nothing = tr.gettext("Nothing has changed, so no digest would be sent.")
        return Reply([esc(intro) + "\n" + nothing])
    heading = tr.gettext("Digest preview")
    parts = render_digest.digest(feed, label, language, heading=heading)
    return Reply([esc(intro), *parts])
