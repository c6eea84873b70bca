"""Digest messages and subscription settings as HTML: every value escaped, parts ≤ 4096.

A digest has three sections — New, Updated (field by field, old → new) and Retracted (with
the reason) — each item one block, so a long digest splits between items, never inside one,
and its parts are labelled "part 1/2".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.i18n import N_, SOURCE_LANGUAGE, number, translator
from bot.presenters.entries import CURATORS_MARK
from bot.presenters.html import Reply, clip, esc, numbered, split_blocks
from bot.presenters.subscriptions import schedule_text
from knowledge.digests.feed import ChangeFeed, EntryChange, FieldChange
from knowledge.language.dates import DateError, format_date, parse_date
from knowledge.models import Subscription

MAX_ITEMS = 60  # per section; the rest is counted, and /timeline has it all
_KIND_ICON = {"event": "🗓", "actor": "👤", "source": "📚"}
_STATUS_MARK = {"confirmed": "✅", "reported": "📰", "claimed": "💬"}
_FIELD_LABEL = {
    "date_label": N_("date label"),
    "citations": N_("sources"),
    "retracted": N_("retraction"),
    "title": N_("title"),
    "summary": N_("summary"),
    "date": N_("date"),
    "status": N_("status"),
    "actors": N_("actors"),
    "topics": N_("topics"),
    "name": N_("name"),
    "role": N_("role"),
    "description": N_("description"),
    "aliases": N_("aliases"),
    "kind": N_("kind"),
    "url": N_("url"),
    "reliability": N_("reliability"),
}
_LONG_FIELDS = {"summary", "description", "reliability", "role"}


def _date_text(record: dict[str, Any], language: str) -> str:
    try:
        start = parse_date(str(record.get("date") or "")).start
    except DateError:
        return str(record.get("date") or "")
    precision = str(record.get("precision") or "")
    return format_date(start, precision, record.get("date_label"), language)


def _headline(change: EntryChange, language: str) -> str:
    icon = _KIND_ICON.get(change.kind, "•") + ("" if change.from_briefing else CURATORS_MARK)
    title = esc(clip(change.title, 160))
    if change.kind == "event":
        mark = _STATUS_MARK.get(str(change.record.get("status")), "")
        date = esc(clip(_date_text(change.record, language), 60))
        mark = f" {mark}" if mark else ""
        return f"{icon} <b>{date}</b> — {title}{mark} #{change.entry_id}"
    return f"{icon} <b>{title}</b> #{change.entry_id}"


def _new_item(change: EntryChange, language: str) -> str:
    lines = [_headline(change, language)]
    detail = change.record.get("summary") or change.record.get("role") or ""
    if detail:
        lines.append(f"<i>{esc(clip(str(detail), 240))}</i>")
    return "\n".join(lines)


def split_names(value: Any) -> list[str]:
    """A list field as names (citations by their source)."""
    if not isinstance(value, list):
        return []
    return [str(v.get("source", "?")) if isinstance(v, dict) else str(v) for v in value]


def _scalar(field: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    # A translation (`summary.uk`) is as long as the field it translates.
    return clip(str(value), 150 if field.partition(".")[0] in _LONG_FIELDS else 80)


def _field_label(field: str, language: str) -> str:
    """A field by its name in `language`; a translation's (`title.uk`) keeps its suffix."""
    name, dot, suffix = field.partition(".")
    known = _FIELD_LABEL.get(name)
    return (translator(language).gettext(known) if known else name) + dot + suffix


def _field_line(change: FieldChange, language: str) -> str:
    _ = translator(language).gettext
    label = esc(_field_label(change.field, language))
    if change.field == "retracted":
        reason = esc(clip(str(change.old), 200))
        return "  " + _("♻️ restored (it had been retracted: <i>{reason}</i>)").format(
            reason=reason
        )
    if isinstance(change.old, list) or isinstance(change.new, list):
        old, new = split_names(change.old), split_names(change.new)
        added = [n for n in new if n not in old]
        removed = [n for n in old if n not in new]
        bits = [f"+{esc(clip(n, 60))}" for n in added[:10]]
        bits += [f"−{esc(clip(n, 60))}" for n in removed[:10]]
        if len(added) + len(removed) > 20:
            bits.append("…")
        if not bits:  # same names: only a note or the order changed
            bits = [_("notes changed")] if change.field == "citations" else [_("reordered")]
        return f"  <i>{label}</i>: {' '.join(bits)}"
    old_text = esc(_scalar(change.field, change.old))
    new_text = esc(_scalar(change.field, change.new))
    return f"  <i>{label}</i>: {old_text} → {new_text}"


def _updated_item(change: EntryChange, language: str) -> str:
    lines = [_headline(change, language)]
    lines += [_field_line(f, language) for f in change.fields[:12]]
    if len(change.fields) > 12:
        more = len(change.fields) - 12
        text = translator(language).ngettext(
            "… and {count} more field", "… and {count} more fields", more
        )
        lines.append("  " + text.format(count=number(more, language)))
    return "\n".join(lines)


def _retracted_item(change: EntryChange, language: str) -> str:
    _ = translator(language).gettext
    reason = esc(clip(change.reason, 300)) if change.reason else _("no reason given")
    retracted = _("<i>Retracted: {reason}</i>").format(reason=reason)
    return f"{_headline(change, language)}\n  {retracted}"


def _section(
    title: str, items: Sequence[EntryChange], render_item: Any, language: str
) -> list[str]:
    if not items:
        return []
    blocks = [render_item(item, language) for item in items[:MAX_ITEMS]]
    if len(items) > MAX_ITEMS:
        more = translator(language).gettext("… and {count} more — see /timeline")
        blocks.append(more.format(count=number(len(items) - MAX_ITEMS, language)))
    blocks[0] = f"\n<b>{title}</b> ({number(len(items), language)})\n{blocks[0]}"
    return blocks


def digest(
    feed: ChangeFeed, label: str = "", language: str = SOURCE_LANGUAGE, *, heading: str = ""
) -> list[str]:
    """The digest as message parts in `language`, each within Telegram's limit."""
    tr = translator(language)
    _ = tr.gettext
    title = heading or _("Briefing digest")
    head = f"<b>📰 {esc(title)}</b>"
    if label:
        head += f" · <i>{esc(clip(label, 80))}</i>"
    count = feed.count
    changes = tr.ngettext(
        "{count} change since the last digest.", "{count} changes since the last digest.", count
    )
    head += "\n" + changes.format(count=number(count, language))
    blocks = [head]
    blocks += _section(_("🆕 New"), feed.new, _new_item, language)
    blocks += _section(_("✏️ Updated"), feed.updated, _updated_item, language)
    blocks += _section(_("🗑 Retracted"), feed.retracted, _retracted_item, language)
    footer = _("/event &lt;number&gt; opens an entry · /subscription changes settings")
    blocks.append(f"\n<i>{footer}</i>")
    return numbered(split_blocks(blocks), language)


# --- channels ---------------------------------------------------------------------------------


def channels_list(channels: Sequence[Subscription], language: str = SOURCE_LANGUAGE) -> Reply:
    tr = translator(language)
    _ = tr.gettext
    if not channels:
        return Reply([_("No channels receive digests. Add one with "
                        "<code>/channel add @channel</code>.")])  # fmt: skip
    lines = [_("<b>Channels receiving digests</b> ({count})").format(count=len(channels))]
    for channel in channels:
        name = f"@{channel.username}" if channel.username else channel.title or _("channel")
        lines.append(
            f"• {esc(clip(name, 80))} <code>{channel.chat_id}</code> — "
            f"{esc(schedule_text(channel, language))}"
            + (
                " · " + _("topic {topic}").format(topic=esc(channel.topic))
                if channel.topic
                else ""
            )
            + (" · " + _("actor filter") if channel.actor_id is not None else "")
        )
    lines.append(
        "\n<code>/channel schedule &lt;id&gt; daily 08:00 Europe/Kyiv</code> · "
        "<code>/channel remove &lt;id&gt;</code>"
    )
    return Reply(numbered(split_blocks(lines), language))
