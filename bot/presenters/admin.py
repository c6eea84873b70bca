"""HTML for moderators, in their language: confirmations with previews, problems, help.
(History, drafts and the audit trail: records.py; the guided /add: guided.py.)

Previews reuse the subscriber cards (bot/answers.py), so a moderator sees an entry exactly as
its readers will. Every dynamic value goes through `esc`, every reply through `split_blocks`.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.commands.curation import USAGE, UsageError
from bot.i18n import N_, SOURCE_LANGUAGE, explained, number, translator
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
from knowledge.write.drafts import Submission
from knowledge.write.importer import ImportSummary
from knowledge.write.requests import ChangeRequest, ImportRejected
from knowledge.write.resolve import UnknownSource

REFUSAL = N_("This command is for moderators.")
OWNER_REFUSAL = N_("This command is for owners.")
_VERB = {
    "create": N_("Added"),
    "edit": N_("Edited"),
    "retract": N_("Retracted"),
    "undo": N_("Undid the last change of"),
    "import": N_("Imported"),
}
# "✅ Added event #12." — the kind of entry, in the confirmation's own language.
_KIND = {"event": N_("event"), "actor": N_("actor"), "source": N_("source")}
ADMIN_HELP = N_("""<b>Moderator commands</b>
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
/mods — who moderates""")

OWNER_HELP = N_("""<b>Owner commands</b>
<code>/mod add USER_ID</code> · <code>/mod remove USER_ID</code> (or in reply to their message)
<code>/audit [N]</code> — the last N admin actions (default 20, at most 200)""")


def help_reply(*, owner: bool, review: bool, language: str = SOURCE_LANGUAGE) -> Reply:
    _ = translator(language).gettext
    blocks = [_(ADMIN_HELP)]
    if review:
        blocks.append(
            _(
                "<i>Review is on: your changes wait as drafts until another moderator "
                "approves them.</i>"
            )
        )
    if owner:
        blocks.append(_(OWNER_HELP))
    return Reply(split_blocks(blocks))


def refusal(*, owners_only: bool = False, language: str = SOURCE_LANGUAGE) -> Reply:
    """What someone without the rights is told, in their language."""
    text = translator(language).gettext(OWNER_REFUSAL if owners_only else REFUSAL)
    return Reply([esc(text)])


def describe(change: ChangeRequest, language: str = SOURCE_LANGUAGE) -> str:
    """`ChangeRequest.describe()` (English: the audit trail's) in the moderator's language."""
    _ = translator(language).gettext
    if change.action == "create":
        record = change.payload.get("record", {})
        name = record.get("title") or record.get("name") or "?"
        kind = _(_KIND[change.kind]) if change.kind in _KIND else change.kind or ""
        return _("add {kind} “{name}”").format(kind=kind, name=name)
    if change.action == "edit":
        fields = ", ".join(change.payload.get("fields", []))
        return _("edit #{id}: {fields}").format(id=change.entry_id, fields=fields)
    if change.action == "retract":
        reason = change.payload.get("reason", "")
        return _("retract #{id}: {reason}").format(id=change.entry_id, reason=reason)
    if change.action == "undo":
        return _("undo the last change of #{id}").format(id=change.entry_id)
    size = len(str(change.payload.get("text", "")).encode("utf-8"))
    name = change.payload.get("name") or _("a file")
    return _("import {name} ({size} bytes)").format(name=name, size=number(size, language))


def summary_line(summary: ImportSummary, language: str = SOURCE_LANGUAGE) -> str:
    """`ImportSummary.line()` in the moderator's language."""
    return (
        translator(language)
        .gettext("{added} added, {updated} updated, {unchanged} unchanged")
        .format(
            added=number(len(summary.added), language),
            updated=number(len(summary.updated), language),
            unchanged=number(len(summary.unchanged), language),
        )
    )


# --- previews ---------------------------------------------------------------------------------


def with_head(head: str, card: Reply | None) -> Reply:
    """A confirmation line above a card, in the card's first message when it fits."""
    if card is None:
        return Reply(split_blocks([head]))
    first = f"{head}\n\n{card.parts[0]}"
    if utf16_len(first) <= MESSAGE_LIMIT:
        return Reply([first, *card.parts[1:]], card.keyboard)
    return Reply([*split_blocks([head]), *card.parts], card.keyboard)


def outcome(
    result: Submission[Reply],
    *,
    approved_draft: int | None = None,
    language: str = SOURCE_LANGUAGE,
) -> Reply:
    """The answer to add / edit / retract / undo / import, with the entry's id and preview."""
    _ = translator(language).gettext
    applied = result.applied
    change = applied.change
    entry = f"#{applied.entry_id}" if applied.entry_id else ""
    if result.status == "unchanged":
        head = _("Nothing changed: {entry} already reads like that.").format(entry=entry)
        return with_head(head, result.preview)
    if result.status == "confirm":
        assert result.draft is not None and result.draft.id is not None
        other = applied.duplicate_of
        if change.action == "create":
            template = _(
                "⚠️ An event with the same title on the same date already exists: "
                "#{other} (/event {other}).\nSave this one anyway? Preview (its number is "
                "given when saved):"
            )
        else:
            template = _(
                "⚠️ An event with the same title on the same date already exists: "
                "#{other} (/event {other}).\nSave this one anyway? Preview:"
            )
        reply = with_head(template.format(other=other), result.preview)
        reply.keyboard = InlineKeyboardMarkup(
            [
                [
                    button(_("✅ Save anyway"), f"mc:y:{result.draft.id}"),
                    button(_("✖ Cancel"), f"mc:n:{result.draft.id}"),
                ]
            ]
        )
        return reply
    if result.status == "draft":
        assert result.draft is not None
        draft = result.draft.id
        what = esc(clip(describe(change, language), 200))
        head = _(
            "📝 Saved as <b>draft {number}</b> ({what}). It changes nothing until another "
            "moderator sends <code>/approve {number}</code>."
        ).format(number=draft, what=what)
        if applied.summary is not None:
            would = _("The file would give: {summary}.").format(
                summary=summary_line(applied.summary, language)
            )
            return Reply([head + "\n" + esc(would)])
        if result.preview is None:
            return Reply([head])
        if change.action == "create":
            note = _("Preview (the number is assigned on approval):")
        else:
            note = _("Preview (after):")
        return with_head(f"{head}\n{note}", result.preview)
    if applied.summary is not None:
        return import_summary(applied.summary, approved_draft, language=language)
    approved = ""
    if approved_draft:
        approved = _(" (draft {number} approved)").format(number=approved_draft)
    verb = _(_VERB[change.action]) if change.action in _VERB else _("Changed")
    kind = ""
    if change.action == "create" and change.kind:
        kind = f"{_(_KIND[change.kind]) if change.kind in _KIND else change.kind} "
    fields = ""
    if change.action == "edit":
        fields = ": " + esc(", ".join(change.payload.get("fields", [])))
    return with_head(f"✅ {verb} {kind}<b>{entry}</b>{fields}{approved}.", result.preview)


def import_summary(
    summary: ImportSummary, approved_draft: int | None = None, *, language: str = SOURCE_LANGUAGE
) -> Reply:
    tr = translator(language)
    _ = tr.gettext
    approved = ""
    if approved_draft:
        approved = _(" (draft {number} approved)").format(number=approved_draft)
    lines = [
        _("✅ Imported{approved}: {summary}.").format(
            approved=approved, summary=esc(summary_line(summary, language))
        )
    ]
    for label, items in ((_("Added"), summary.added), (_("Updated"), summary.updated)):
        if items:
            shown = ", ".join(esc(clip(i, 60)) for i in items[:30])
            rest = " " + more(len(items) - 30, language) if len(items) > 30 else ""
            lines.append(f"{label}: {shown}{rest}")
    return Reply(numbered(split_blocks(lines), language))


def more(count: int, language: str) -> str:
    """ "… and 3 more", in `language`."""
    return translator(language).gettext("… and {count} more").format(count=number(count, language))


# --- problems ---------------------------------------------------------------------------------

_SOURCE_KINDS = "telegram_channel, news_outlet, official, analysis, public_record, briefing"


def problem(exc: Exception, language: str = SOURCE_LANGUAGE) -> Reply:
    """A validation error: what is wrong, that nothing changed, and how to do it right."""
    tr = translator(language)
    _ = tr.gettext
    if isinstance(exc, ImportRejected):
        # The file's own problems (file:line: …) stay as the importer words them.
        shown = exc.errors[:20]
        count = len(exc.errors)
        lines = [
            tr.ngettext(
                "⚠️ Nothing was imported: {count} problem in the file.",
                "⚠️ Nothing was imported: {count} problems in the file.",
                count,
            ).format(count=number(count, language))
        ]
        lines += [f"• <code>{esc(clip(e, 300))}</code>" for e in shown]
        if count > len(shown):
            lines.append(more(count - len(shown), language))
        return Reply(numbered(split_blocks(lines), language))
    said = esc(clip(_sentence(explained(exc, language)), 1500))
    text = _("⚠️ {problem} Nothing was changed.").format(problem=said)
    if isinstance(exc, UnknownSource):
        text += "\n" + _(
            "Create it first, then send your command again:\n"
            "<code>/add_source {name} | KIND | URL</code>\n"
            "KIND: {kinds}"
        ).format(name=esc(clip(exc.name, 200)), kinds=_SOURCE_KINDS)
    elif isinstance(exc, UsageError) and exc.command in USAGE:
        text += "\n" + _("Usage: <code>{usage}</code>").format(usage=esc(USAGE[exc.command]))
    return Reply(split_blocks([text]))


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."
