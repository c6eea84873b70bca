"""HTML for the records moderators read: an entry's history, drafts waiting for review, who
moderates, and the audit trail (whose commands and outcomes are kept, and shown, in English).
Dates are Babel's, in UTC."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from babel.dates import format_date, format_datetime
from telegram import InlineKeyboardMarkup

from bot.i18n import N_, SOURCE_LANGUAGE, number, supported, translator
from bot.presenters.admin import describe, more
from bot.presenters.html import Reply, button, clip, esc, numbered, split_blocks
from knowledge.models import AuditRecord, Draft, Moderator, as_utc
from knowledge.write.audit import AUDIT_MAX
from knowledge.write.drafts import change_of
from knowledge.write.history import HistoryPage
from knowledge.write.requests import ChangeRequest

# Revisions' actions (data: create, edit, …) as /history names them.
_ACTION = {
    "create": N_("create"),
    "edit": N_("edit"),
    "retract": N_("retract"),
    "undo": N_("undo"),
    "import": N_("import"),
}
# "2026-12-02 10:35" · "2 груд. 2026, 10:35": Babel's patterns per language, in UTC.
_WHEN_PATTERN = {"en": "yyyy-MM-dd HH:mm", "uk": "d MMM y, HH:mm"}
_DAY_PATTERN = {"en": "yyyy-MM-dd", "uk": "d MMM y"}


def _code(language: str) -> str:
    return supported(language) or SOURCE_LANGUAGE


def _when(moment: datetime, language: str = SOURCE_LANGUAGE) -> str:
    code = _code(language)
    pattern = _WHEN_PATTERN.get(code, "medium")
    return f"{format_datetime(as_utc(moment), pattern, tzinfo=UTC, locale=code)} UTC"


def _day(moment: datetime, language: str) -> str:
    code = _code(language)
    return format_date(as_utc(moment), _DAY_PATTERN.get(code, "medium"), locale=code)


# --- history ----------------------------------------------------------------------------------


def history(page: HistoryPage, language: str = SOURCE_LANGUAGE) -> Reply:
    tr = translator(language)
    _ = tr.gettext
    revisions = tr.ngettext("{count} revision", "{count} revisions", page.total).format(
        count=number(page.total, language)
    )
    head = _("<b>History of #{id}</b> · {title} · {revisions}").format(
        id=page.entry_id, title=esc(clip(page.title, 120)), revisions=revisions
    )
    blocks = [head]
    for item in page.items:
        who = esc(clip(item.author_name or _("unknown"), 60))
        if item.author_id is not None:
            who += f" ({item.author_id})"
        action = _(_ACTION[item.action]) if item.action in _ACTION else item.action
        lines = [
            f"<b>r{item.revision_id}</b> · {_when(item.at, language)} · {esc(action)} · {who}"
        ]
        if item.note:
            lines.append(f"<i>{esc(clip(item.note, 200))}</i>")
        for change in item.changes[:20]:
            lines.append(
                f"  {esc(change.field)}: {esc(clip(change.old, 100))} → "
                f"{esc(clip(change.new, 100))}"
            )
        if len(item.changes) > 20:
            more = len(item.changes) - 20
            lines.append(
                "  "
                + tr.ngettext(
                    "… and {count} more field", "… and {count} more fields", more
                ).format(count=number(more, language))
            )
        blocks.append("\n".join(lines))
    rows = []
    if page.total > page.limit:
        nav = []
        if page.offset > 0:
            nav.append(button("◀", f"mh:{page.entry_id}:{max(page.offset - page.limit, 0)}"))
        pages = (page.total + page.limit - 1) // page.limit
        nav.append(button(f"{page.offset // page.limit + 1}/{pages}", "noop"))
        if page.offset + len(page.items) < page.total:
            nav.append(button("▶", f"mh:{page.entry_id}:{page.offset + page.limit}"))
        rows.append(nav)
    return Reply(
        numbered(split_blocks(blocks), language), InlineKeyboardMarkup(rows) if rows else None
    )


# --- drafts, moderators, audit ----------------------------------------------------------------


def drafts(items: Sequence[Draft], total: int, language: str = SOURCE_LANGUAGE) -> Reply:
    _ = translator(language).gettext
    if not items:
        return Reply([_("No drafts are waiting for review.")])
    blocks = [_("<b>Drafts waiting for review</b> · {total}").format(total=total)]
    for draft in items:
        change: ChangeRequest = change_of(draft)
        blocks.append(
            _(
                "<b>draft {id}</b> · {what}\n"
                "  by {author} ({author_id}) · {when}\n"
                "  <code>/approve {id}</code> · <code>/reject {id} | reason</code>"
            ).format(
                id=draft.id,
                what=esc(clip(describe(change, language), 200)),
                author=esc(clip(draft.author_name, 60)),
                author_id=draft.author_id,
                when=_when(draft.created_at, language),
            )
        )
    if total > len(items):
        blocks.append(more(total - len(items), language))
    return Reply(numbered(split_blocks(blocks), language))


def rejected(draft: Draft, language: str = SOURCE_LANGUAGE) -> Reply:
    _ = translator(language).gettext
    return Reply(
        [
            _("🗑 Draft {id} rejected: {reason}. Nothing was changed.").format(
                id=draft.id, reason=esc(clip(draft.reason, 300))
            )
        ]
    )


def moderators(
    owners: Collection[int], mods: Sequence[Moderator], language: str = SOURCE_LANGUAGE
) -> Reply:
    _ = translator(language).gettext
    lines = [_("<b>Owners</b> (ADMIN_IDS)")]
    lines += [f"• {owner}" for owner in sorted(owners)] or ["• " + _("none")]
    lines.append(_("<b>Moderators</b>"))
    if not mods:
        lines.append("• " + _("none yet — owners add them with <code>/mod add USER_ID</code>"))
    for mod in mods:
        name = f" {esc(clip(mod.name, 60))}" if mod.name else ""
        lines.append(
            "• "
            + _("{user}{name} · added by {by} on {day}").format(
                user=mod.user_id, name=name, by=mod.added_by, day=_day(mod.added_at, language)
            )
        )
    return Reply(numbered(split_blocks(lines), language))


def audit(records: Sequence[AuditRecord], language: str = SOURCE_LANGUAGE) -> Reply:
    """The audit trail: its records (commands and outcomes) are kept, and shown, in English."""
    _ = translator(language).gettext
    if not records:
        return Reply([_("The audit trail is empty.")])
    blocks = [
        _("<b>Audit</b> · the last {count} (at most {most}), newest first").format(
            count=len(records), most=AUDIT_MAX
        )
    ]
    for record in records:
        blocks.append(
            f"{_when(record.at, language)} · {record.user_id} · "
            f"<code>{esc(clip(record.command, 120))}"
            f"</code>\n  → {esc(clip(record.outcome, 200))}"
        )
    return Reply(numbered(split_blocks(blocks), language))
