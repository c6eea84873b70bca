"""Digest settings as readers see them: the schedule, the next digest, how to change it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, get_day_names

from bot.i18n import SOURCE_LANGUAGE, supported, translator
from bot.presenters.html import Reply, esc
from knowledge.digests.schedules import INSTANT, WEEKLY
from knowledge.models import Subscription, as_utc

# "Fri 05 Dec 2026, 09:00" · "пт, 5 грудня 2026, 09:00"
_MOMENT_PATTERN = {"en": "EEE dd MMM y, HH:mm", "uk": "EEE, d MMMM y, HH:mm"}


def schedule_text(subscription: Subscription, language: str = SOURCE_LANGUAGE) -> str:
    """ "daily at 09:00 (Europe/Kyiv)", "weekly on Friday at 18:00 (UTC)", "instant"."""
    _ = translator(language).gettext
    if subscription.frequency == INSTANT:
        return _("instant (shortly after each change, bursts batched)")
    values = {"time": subscription.at_time, "zone": subscription.timezone}
    if subscription.frequency == WEEKLY and subscription.weekday is not None:
        locale = supported(language) or SOURCE_LANGUAGE
        day = get_day_names("wide", context="stand-alone", locale=locale)[subscription.weekday]
        return _("weekly on {day} at {time} ({zone})").format(day=day, **values)
    return _("daily at {time} ({zone})").format(**values)


def _local(moment: datetime | None, zone: str, language: str) -> str:
    if moment is None:
        return "—"
    local = as_utc(moment).astimezone(ZoneInfo(zone))
    locale = supported(language) or SOURCE_LANGUAGE
    pattern = _MOMENT_PATTERN.get(locale, _MOMENT_PATTERN[SOURCE_LANGUAGE])
    return (
        format_datetime(local, pattern, tzinfo=local.tzinfo, locale=locale)
        + " "
        + (local.tzname() or zone)
    )


def not_subscribed(*, private: bool, language: str = SOURCE_LANGUAGE) -> Reply:
    """/unsubscribe where nothing was subscribed."""
    _ = translator(language).gettext
    text = (
        _("You are not subscribed, so there is nothing to stop.")
        if private
        else _("This chat is not subscribed, so there is nothing to stop.")
    )
    return Reply([text])


def unsubscribed(language: str = SOURCE_LANGUAGE) -> Reply:
    _ = translator(language).gettext
    return Reply([_("Unsubscribed: no more digests here. /subscribe starts them again.")])


def subscription_card(
    subscription: Subscription | None,
    label: str,
    *,
    private: bool,
    language: str = SOURCE_LANGUAGE,
) -> Reply:
    """/subscription: the settings, or how to subscribe."""
    _ = translator(language).gettext
    if subscription is None or not subscription.active:
        text = (
            _("You are not subscribed. /subscribe sends a daily digest of what changed; "
              "see /help for the options.")
            if private
            else _("This chat is not subscribed. /subscribe sends a daily digest of what "
                   "changed; see /help for the options.")
        )  # fmt: skip
        return Reply([text])
    zone = subscription.timezone
    schedule = esc(schedule_text(subscription, language))
    lines = [_("<b>Digest settings</b> · {schedule}").format(schedule=schedule)]
    lines.append(
        _("Filter: {filter}").format(filter=esc(label))
        if label
        else _("Filter: none (everything)")
    )
    if subscription.frequency != INSTANT:
        when = esc(_local(subscription.next_due_at, zone, language))
        lines.append(_("Next digest: {when}").format(when=when))
    if subscription.last_digest_at is not None:
        when = esc(_local(subscription.last_digest_at, zone, language))
        lines.append(_("Last digest: {when}").format(when=when))
    lines.append(
        "\n"
        + _(
            "Change: <code>/subscribe daily 08:00 Europe/Kyiv</code> · "
            "<code>/subscribe weekly fri 18:00</code> · <code>/subscribe instant</code> · "
            "add <code>topic=sanctions</code> or <code>actor=Yermak</code>\nStop: /unsubscribe"
        )
    )
    return Reply(["\n".join(lines)])


def subscribed(
    subscription: Subscription, label: str, status: str, language: str = SOURCE_LANGUAGE
) -> Reply:
    """The confirmation after /subscribe: settings, and that the backlog is not coming."""
    _ = translator(language).gettext
    verb = {
        "new": _("Subscribed"),
        "resumed": _("Subscribed again"),
        "updated": _("Settings changed"),
    }
    schedule = esc(schedule_text(subscription, language))
    lines = [f"✅ <b>{verb.get(status, verb['new'])}</b>: {schedule}"]
    if label:
        lines.append(_("Filter: {filter}").format(filter=esc(label)))
    if subscription.frequency != INSTANT:
        when = esc(_local(subscription.next_due_at, subscription.timezone, language))
        lines.append(_("First digest: {when}").format(when=when))
    if status != "updated":
        lines.append(
            _(
                "You'll get what changes from now on (only when something does). "
                "/timeline has everything so far."
            )
        )
    lines.append(_("/subscription shows these settings · /unsubscribe stops them"))
    return Reply(["\n".join(lines)])
