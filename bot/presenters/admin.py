"""HTML for moderators: confirmations with previews, history, drafts, audit, help.

Previews reuse the subscriber cards from bot/render.py, so a moderator sees an entry exactly as
subscribers will. Every dynamic value goes through `esc`, every reply through `split_blocks`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from telegram import InlineKeyboardMarkup

from bot.commands.curation import AUDIT_MAX, USAGE, UsageError
from bot.commands.guided import Step
from bot.i18n import N_, SOURCE_LANGUAGE, translator
from bot.presenters.html import (
    MESSAGE_LIMIT,
    Reply,
    button,
    clip,
    esc,
    numbered,
    split_blocks,
    utf16_len,
)
from knowledge.models import AuditRecord, Draft, Moderator, as_utc
from knowledge.write.drafts import Submission, change_of
from knowledge.write.history import HistoryPage
from knowledge.write.importer import ImportSummary
from knowledge.write.records import CurationError
from knowledge.write.requests import ChangeRequest, ImportRejected
from knowledge.write.resolve import UnknownSource

REFUSAL = N_("This command is for moderators.")
OWNER_REFUSAL = N_("This command is for owners.")
_VERB = {
    "create": "Added",
    "edit": "Edited",
    "retract": "Retracted",
    "undo": "Undid the last change of",
    "import": "Imported",
}

ADMIN_HELP = """<b>Moderator commands</b>
Fields are separated by <code>|</code>; dates are <code>YYYY</code>, <code>YYYY-MM</code> or \
<code>YYYY-MM-DD</code>; names are matched ignoring case.

<code>/add_event DATE | TITLE | SUMMARY | SOURCE[; SOURCE…]</code>
  each SOURCE is an existing source's name; <code>-</code> for no summary
<code>/add_actor NAME | KIND | ROLE | ALIAS[, ALIAS…]</code>
  KIND: person, organisation, state, media, place
<code>/add_source NAME | KIND | URL</code> (<code>-</code> for no URL)
  KIND: telegram_channel, news_outlet, official, analysis, public_record, briefing
/add — the same, step by step with buttons; /cancel stops it
<code>/edit ID | FIELD | VALUE</code> — a wrong FIELD lists the valid ones
  lists (sources, actors, aliases, topics) are comma-separated and replace the old list
<code>/retract ID | REASON</code> — hidden from lists, kept with its reason
<code>/history ID</code> — every revision: when, who, old → new
<code>/undo ID</code> — revert the last revision (recorded as a new one)
/export — the knowledge base as a YAML file
/import — send a YAML file with the caption <code>/import</code> (or reply /import to it)
/propose — entries proposed from a briefing (pasted, a reply, a forward or a file) to review
/pending — drafts waiting for review · <code>/approve N</code> · \
<code>/reject N | REASON</code>
/mods — who moderates"""

OWNER_HELP = """<b>Owner commands</b>
<code>/mod add USER_ID</code> · <code>/mod remove USER_ID</code> (or in reply to their message)
<code>/audit [N]</code> — the last N admin actions (default 20, at most 200)"""


def help_reply(*, owner: bool, review: bool) -> Reply:
    blocks = [ADMIN_HELP]
    if review:
        blocks.append(
            "<i>Review is on: your changes wait as drafts until another moderator "
            "approves them.</i>"
        )
    if owner:
        blocks.append(OWNER_HELP)
    return Reply(split_blocks(blocks))


def refusal(*, owners_only: bool = False, language: str = SOURCE_LANGUAGE) -> Reply:
    """What someone without the rights is told, in their language."""
    text = translator(language).gettext(OWNER_REFUSAL if owners_only else REFUSAL)
    return Reply([esc(text)])


def _when(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


# --- previews ---------------------------------------------------------------------------------


def with_head(head: str, card: Reply | None) -> Reply:
    """A confirmation line above a card, in the card's first message when it fits."""
    if card is None:
        return Reply(split_blocks([head]))
    first = f"{head}\n\n{card.parts[0]}"
    if utf16_len(first) <= MESSAGE_LIMIT:
        return Reply([first, *card.parts[1:]], card.keyboard)
    return Reply([*split_blocks([head]), *card.parts], card.keyboard)


def outcome(result: Submission[Reply], *, approved_draft: int | None = None) -> Reply:
    """The answer to add / edit / retract / undo / import, with the entry's id and preview."""
    applied = result.applied
    change = applied.change
    entry = f"#{applied.entry_id}" if applied.entry_id else ""
    if result.status == "unchanged":
        return with_head(f"Nothing changed: {entry} already reads like that.", result.preview)
    if result.status == "confirm":
        assert result.draft is not None and result.draft.id is not None
        other = applied.duplicate_of
        numbering = " (its number is given when saved)" if change.action == "create" else ""
        head = (
            f"⚠️ An event with the same title on the same date already exists: "
            f"#{other} (/event {other}).\nSave this one anyway? Preview{numbering}:"
        )
        reply = with_head(head, result.preview)
        reply.keyboard = InlineKeyboardMarkup(
            [
                [
                    button("✅ Save anyway", f"mc:y:{result.draft.id}"),
                    button("✖ Cancel", f"mc:n:{result.draft.id}"),
                ]
            ]
        )
        return reply
    if result.status == "draft":
        assert result.draft is not None
        number = result.draft.id
        what = esc(clip(change.describe(), 200))
        head = (
            f"📝 Saved as <b>draft {number}</b> ({what}). It changes nothing until another "
            f"moderator sends <code>/approve {number}</code>."
        )
        if applied.summary is not None:
            return Reply([head + "\n" + esc(f"The file would give: {applied.summary.line()}.")])
        if result.preview is None:
            return Reply([head])
        note = "the number is assigned on approval" if change.action == "create" else "after"
        return with_head(f"{head}\nPreview ({note}):", result.preview)
    if applied.summary is not None:
        return import_summary(applied.summary, approved_draft)
    approved = f" (draft {approved_draft} approved)" if approved_draft else ""
    verb = _VERB.get(change.action, "Changed")
    kind = f"{change.kind} " if change.action == "create" and change.kind else ""
    fields = ""
    if change.action == "edit":
        fields = ": " + esc(", ".join(change.payload.get("fields", [])))
    return with_head(f"✅ {verb} {kind}<b>{entry}</b>{fields}{approved}.", result.preview)


def import_summary(summary: ImportSummary, approved_draft: int | None = None) -> Reply:
    approved = f" (draft {approved_draft} approved)" if approved_draft else ""
    lines = [f"✅ Imported{approved}: {esc(summary.line())}."]
    for label, items in (("Added", summary.added), ("Updated", summary.updated)):
        if items:
            shown = ", ".join(esc(clip(i, 60)) for i in items[:30])
            more = f" … and {len(items) - 30} more" if len(items) > 30 else ""
            lines.append(f"{label}: {shown}{more}")
    return Reply(numbered(split_blocks(lines)))


# --- problems ---------------------------------------------------------------------------------


def problem(exc: CurationError) -> Reply:
    """A validation error: what is wrong, that nothing changed, and how to do it right."""
    if isinstance(exc, ImportRejected):
        shown = exc.errors[:20]
        lines = [
            f"⚠️ Nothing was imported: {len(exc.errors)} "
            f"problem{'s' if len(exc.errors) != 1 else ''} in the file."
        ]
        lines += [f"• <code>{esc(clip(e, 300))}</code>" for e in shown]
        if len(exc.errors) > len(shown):
            lines.append(f"… and {len(exc.errors) - len(shown)} more")
        return Reply(numbered(split_blocks(lines)))
    text = f"⚠️ {esc(clip(_sentence(str(exc)), 1500))} Nothing was changed."
    if isinstance(exc, UnknownSource):
        text += (
            "\nCreate it first, then send your command again:\n"
            f"<code>/add_source {esc(clip(exc.name, 200))} | KIND | URL</code>\n"
            "KIND: telegram_channel, news_outlet, official, analysis, public_record, briefing"
        )
    elif isinstance(exc, UsageError) and exc.command in USAGE:
        text += f"\nUsage: <code>{esc(USAGE[exc.command])}</code>"
    return Reply(split_blocks([text]))


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


# --- history ----------------------------------------------------------------------------------


def history(page: HistoryPage) -> Reply:
    head = (
        f"<b>History of #{page.entry_id}</b> · {esc(clip(page.title, 120))} · "
        f"{page.total} revision{'s' if page.total != 1 else ''}"
    )
    blocks = [head]
    for item in page.items:
        who = esc(clip(item.author_name or "unknown", 60))
        if item.author_id is not None:
            who += f" ({item.author_id})"
        lines = [f"<b>r{item.revision_id}</b> · {_when(item.at)} · {esc(item.action)} · {who}"]
        if item.note:
            lines.append(f"<i>{esc(clip(item.note, 200))}</i>")
        for change in item.changes[:20]:
            lines.append(
                f"  {esc(change.field)}: {esc(clip(change.old, 100))} → "
                f"{esc(clip(change.new, 100))}"
            )
        if len(item.changes) > 20:
            lines.append(f"  … and {len(item.changes) - 20} more fields")
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
    return Reply(numbered(split_blocks(blocks)), InlineKeyboardMarkup(rows) if rows else None)


# --- drafts, moderators, audit ----------------------------------------------------------------


def drafts(items: Sequence[Draft], total: int) -> Reply:
    if not items:
        return Reply(["No drafts are waiting for review."])
    blocks = [f"<b>Drafts waiting for review</b> · {total}"]
    for draft in items:
        change: ChangeRequest = change_of(draft)
        blocks.append(
            f"<b>draft {draft.id}</b> · {esc(clip(change.describe(), 200))}\n"
            f"  by {esc(clip(draft.author_name, 60))} ({draft.author_id}) · "
            f"{_when(draft.created_at)}\n"
            f"  <code>/approve {draft.id}</code> · <code>/reject {draft.id} | reason</code>"
        )
    if total > len(items):
        blocks.append(f"… and {total - len(items)} more")
    return Reply(numbered(split_blocks(blocks)))


def rejected(draft: Draft) -> Reply:
    return Reply(
        [f"🗑 Draft {draft.id} rejected: {esc(clip(draft.reason, 300))}. Nothing was changed."]
    )


def moderators(owners: Collection[int], mods: Sequence[Moderator]) -> Reply:
    lines = ["<b>Owners</b> (ADMIN_IDS)"]
    lines += [f"• {owner}" for owner in sorted(owners)] or ["• none"]
    lines.append("<b>Moderators</b>")
    if not mods:
        lines.append("• none yet — owners add them with <code>/mod add USER_ID</code>")
    for mod in mods:
        name = f" {esc(clip(mod.name, 60))}" if mod.name else ""
        lines.append(
            f"• {mod.user_id}{name} · added by {mod.added_by} on {as_utc(mod.added_at):%Y-%m-%d}"
        )
    return Reply(numbered(split_blocks(lines)))


def audit(records: Sequence[AuditRecord]) -> Reply:
    if not records:
        return Reply(["The audit trail is empty."])
    blocks = [f"<b>Audit</b> · the last {len(records)} (at most {AUDIT_MAX}), newest first"]
    for record in records:
        blocks.append(
            f"{_when(record.at)} · {record.user_id} · <code>{esc(clip(record.command, 120))}"
            f"</code>\n  → {esc(clip(record.outcome, 200))}"
        )
    return Reply(numbered(split_blocks(blocks)))


# --- the guided /add flow ---------------------------------------------------------------------


def choose_kind() -> Reply:
    keyboard = InlineKeyboardMarkup(
        [
            [
                button("🗓 Event", "add:k:event"),
                button("👤 Actor", "add:k:actor"),
                button("📚 Source", "add:k:source"),
            ],
            [button("✖ Cancel", "add:no")],
        ]
    )
    return Reply(
        [
            "What would you like to add? (/cancel stops at any step; nothing is saved "
            "until you confirm.)"
        ],
        keyboard,
    )


def ask(step: Step, number: int, count: int, error: str | None = None) -> Reply:
    lines = []
    if error:
        lines.append(f"⚠️ {esc(clip(_sentence(error), 1000))} Please try again.")
    lines.append(f"<b>{number}/{count}</b> {esc(step.prompt)}")
    if step.choices:
        lines.append("One of: " + ", ".join(f"<code>{esc(c)}</code>" for c in step.choices))
    return Reply(split_blocks(["\n".join(lines)]))


def guided_preview(card: Reply | None, duplicate_of: int | None) -> Reply:
    head = "<b>Preview</b> — this is how subscribers will see it:"
    if duplicate_of is not None:
        head = (
            f"⚠️ An event with the same title on the same date already exists: "
            f"#{duplicate_of}. Confirming saves this one anyway.\n{head}"
        )
    reply = with_head(head, card)
    reply.keyboard = InlineKeyboardMarkup(
        [[button("✅ Confirm", "add:ok"), button("✖ Cancel", "add:no")]]
    )
    return reply
