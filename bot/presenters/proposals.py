"""/propose in chat: a batch's summary, one card per proposal with its buttons, the edit steps
and the outcomes. Plain values in (knowledge/write/proposals/views.py), HTML and buttons out.

Callback data: pp:a:ID approve, pp:r:ID reject, pp:e:ID edit (choose a field), pp:f:ID:FIELD
edit that field, pp:all:BATCH approve all, pp:m:BATCH:FROM the next cards, pp:fw:MESSAGE
propose a forwarded post.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardMarkup

from bot.i18n import N_, SOURCE_LANGUAGE, explained, number, translator
from bot.presenters.entries import KIND_NAME, STATUS_NAME, named
from bot.presenters.html import Reply, button, clip, esc, split_blocks
from knowledge.language.dates import format_date, parse_date
from knowledge.write.proposals.review import PROPOSAL_FIELDS
from knowledge.write.proposals.views import ProposalView

CARDS_AT_ONCE = 8

HOW = N_(
    "<b>/propose</b> reads a briefing and proposes entries for you to review:\n"
    "• <code>/propose source: NAME</code>, then the text on the next lines;\n"
    "• <code>/propose [SOURCE]</code> in reply to a message or a forwarded channel post;\n"
    "• a .txt, .md or .html file with the caption <code>/propose [SOURCE]</code>."
)

ASK_SOURCE = N_(
    "Which source is this text from? Send its name — a source the knowledge base has, or a "
    "new one to propose. /cancel stops."
)

_STATE = {"applied": N_("✅ approved"), "pending": N_("⏳ waiting for a second moderator"),
          "rejected": N_("✖ rejected")}  # fmt: skip
_KIND = {"event": N_("event"), "actor": N_("actor"), "source": N_("source")}


def _date(view: ProposalView, language: str) -> str:
    _ = translator(language).gettext
    if not view.date or not view.precision:
        return _("<i>undated in the text</i> — set a date before approving")
    shown = format_date(parse_date(view.date).start, view.precision, None, language)
    if view.precision == "approximate":
        shown = _("c. {date}").format(date=view.date)
    words = f" (“{esc(clip(view.date_text, 60))}”)" if view.date_text else ""
    return f"{esc(shown)} · {esc(view.precision)}{words}"


def card_text(view: ProposalView, language: str = SOURCE_LANGUAGE) -> str:
    """One proposal as the moderator reviews it."""
    _ = translator(language).gettext
    kind = _(_KIND[view.kind]) if view.kind in _KIND else view.kind
    head = _("<b>Proposal {id}</b> · {kind}").format(id=view.id, kind=esc(kind))
    if view.kind != "event":
        entity = named(KIND_NAME, view.entity_kind or "", language)
        lines = [_("{head}: new {kind}").format(head=head, kind=esc(kind)),
                 f"<b>{esc(clip(view.title, 200))}</b> · {esc(entity)}"]  # fmt: skip
        if view.sentence:
            lines.append(
                _("<i>First seen in:</i> “{sentence}”").format(
                    sentence=esc(clip(view.sentence, 600))
                )
            )
    else:
        if view.update_of is not None:
            head += " — " + _("adds to #{id} “{title}”").format(
                id=view.update_of, title=esc(clip(view.update_title or "", 100))
            )
        actors = ", ".join(esc(a) for a in view.actors) or "—"
        if view.new_actors:
            actors += " · " + _("new: {names}").format(
                names=", ".join(esc(a) for a in view.new_actors)
            )
        by = ""
        if view.attributed_to:
            by = " " + _("(credited to {name})").format(name=esc(clip(view.attributed_to, 80)))
        status = named(STATUS_NAME, view.status or "", language)
        lines = [
            head,
            f"“{esc(clip(view.sentence, 1200))}”",
            _("<b>Title:</b> {title}").format(title=esc(clip(view.title, 200))),
            _("<b>Date:</b> {date}").format(date=_date(view, language)),
            _("<b>Actors:</b> {actors}").format(actors=actors),
            _("<b>Source:</b> {source}{by} · <b>status:</b> {status}").format(
                source=esc(view.source), by=by, status=esc(status)
            ),
        ]
    if view.state in _STATE:
        lines.append(_(_STATE[view.state]))
    return "\n".join(lines)


def _buttons(view: ProposalView, language: str) -> InlineKeyboardMarkup | None:
    if view.state != "proposed":
        return None
    _ = translator(language).gettext
    return InlineKeyboardMarkup(
        [[
            button(_("✅ Approve"), f"pp:a:{view.id}"),
            button(_("✏️ Edit"), f"pp:e:{view.id}"),
            button(_("✖ Reject"), f"pp:r:{view.id}"),
        ]]
    )  # fmt: skip


def card(view: ProposalView, language: str = SOURCE_LANGUAGE) -> Reply:
    return Reply(split_blocks([card_text(view, language)]), _buttons(view, language))


def batch_summary(
    views: Sequence[ProposalView],
    *,
    source: str,
    sentences: int,
    review: bool,
    language: str = SOURCE_LANGUAGE,
) -> Reply:
    """The head of a batch: what was found, and "approve all"."""
    tr = translator(language)
    _ = tr.gettext
    events = [v for v in views if v.kind == "event"]
    undated = sum(1 for v in events if not v.date)
    updates = sum(1 for v in events if v.update_of is not None)
    others = len(views) - len(events)
    read = tr.ngettext("{count} sentence", "{count} sentences", sentences).format(
        count=number(sentences, language)
    )
    if not views:
        return Reply(
            [
                _(
                    "I read {sentences} and found nothing to propose: none reports "
                    "an event with its actors or a date. Nothing was saved."
                ).format(sentences=read)
            ]
        )
    found = tr.ngettext(
        "📝 <b>{count} proposed event</b> from {sentences}, source “{source}”",
        "📝 <b>{count} proposed events</b> from {sentences}, source “{source}”",
        len(events),
    ).format(count=number(len(events), language), sentences=read, source=esc(clip(source, 100)))
    if others:
        found += tr.ngettext(
            ", and {count} new name (actors or a source)",
            ", and {count} new names (actors or a source)",
            others,
        ).format(count=number(others, language))
    lines = [found + "."]
    if updates:
        lines.append(
            tr.ngettext(
                "{count} adds to events the knowledge base already has.",
                "{count} add to events the knowledge base already has.",
                updates,
            ).format(count=number(updates, language))
        )
    if undated:
        lines.append(
            tr.ngettext(
                "{count} is undated in the text: give it a date (✏️ Edit) before approving.",
                "{count} are undated in the text: give each a date (✏️ Edit) before approving.",
                undated,
            ).format(count=number(undated, language))
        )
    if review:
        lines.append(
            _(
                "Each card shows the sentence it comes from. Nothing is published until approved"
                " — and, with review on, approved again by a second moderator."
            )
        )
    else:
        lines.append(
            _("Each card shows the sentence it comes from. Nothing is published until approved.")
        )
    first = views[0].batch
    return Reply(
        split_blocks(["\n".join(lines)]),
        InlineKeyboardMarkup([[button(_("✅ Approve all"), f"pp:all:{first}")]]),
    )


def more_button(batch: int, start: int, left: int, language: str = SOURCE_LANGUAGE) -> Reply:
    tr = translator(language)
    more = tr.ngettext("{count} more proposal.", "{count} more proposals.", left)
    return Reply(
        [more.format(count=number(left, language))],
        InlineKeyboardMarkup([[button(tr.gettext("Show more"), f"pp:m:{batch}:{start}")]]),
    )


def fields(view: ProposalView, language: str = SOURCE_LANGUAGE) -> Reply:
    """Which field to edit (the buttons name the fields as /edit does: as data)."""
    _ = translator(language).gettext
    rows = [
        [button(name, f"pp:f:{view.id}:{name}") for name in PROPOSAL_FIELDS[view.kind][i : i + 3]]
        for i in range(0, len(PROPOSAL_FIELDS[view.kind]), 3)
    ]
    which = _("Which field of proposal {id} do you want to change?").format(id=view.id)
    return Reply([f"{card_text(view, language)}\n\n{which}"], InlineKeyboardMarkup(rows))


_ASK = {
    "date": N_("YYYY, YYYY-MM or YYYY-MM-DD; put ~ in front for an approximate date (~2023)"),
    "title": N_("the title, up to 200 characters"),
    "status": N_("confirmed, reported or claimed"),
    "source": N_("the source's name"),
    "actors": N_("the actors' names, separated by commas"),
    "name": N_("the name"),
    "kind": N_("the kind (person, organisation, state, group, media, place — or for a source: "
               "telegram channel, news outlet, official, analysis, public record, briefing)"),
}  # fmt: skip


def ask_value(draft_id: int, field: str, language: str = SOURCE_LANGUAGE) -> Reply:
    _ = translator(language).gettext
    text = _("Send the new {field} of proposal {id}: {how}. /cancel keeps it as it is.")
    return Reply([text.format(field=esc(field), id=draft_id, how=esc(_(_ASK[field])))])


def approved(
    views: Sequence[ProposalView],
    entry_ids: Sequence[int],
    *,
    review: bool,
    language: str = SOURCE_LANGUAGE,
) -> Reply:
    _ = translator(language).gettext
    names = ", ".join(f"{v.id}" for v in views)
    if review:
        return Reply([_("✅ Proposal {ids} approved by you; with review on, it now waits "
                        "for a second moderator (/pending).").format(ids=esc(names))])  # fmt: skip
    made = ", ".join(f"#{i}" for i in entry_ids)
    text = _("✅ Proposal {ids} approved and published as {entries}.")
    return Reply([text.format(ids=esc(names), entries=esc(made))])


def batch_approved(approved_ids: Sequence[int], skipped: Sequence[tuple[int, Exception]],
                   *, review: bool, language: str = SOURCE_LANGUAGE) -> Reply:  # fmt: skip
    tr = translator(language)
    _ = tr.gettext
    count = len(approved_ids)
    if review:
        head = tr.ngettext(
            "✅ {count} proposal approved — each now waits for a second moderator (/pending).",
            "✅ {count} proposals approved — each now waits for a second moderator (/pending).",
            count,
        )
    else:
        head = tr.ngettext(
            "✅ {count} proposal approved.", "✅ {count} proposals approved.", count
        )
    lines = [head.format(count=number(count, language))]
    if skipped:
        lines.append(_("{count} left for you:").format(count=number(len(skipped), language)))
        lines += [
            f"• {pid}: {esc(clip(explained(why, language), 200))}" for pid, why in skipped[:30]
        ]
        if len(skipped) > 30:
            more = _("… and {count} more").format(count=number(len(skipped) - 30, language))
            lines.append(more)
    return Reply(split_blocks(lines))


def forward_offer(message_id: int, language: str = SOURCE_LANGUAGE) -> Reply:
    """Offered to a moderator who forwards a post in a private chat."""
    _ = translator(language).gettext
    return Reply(
        [_("A forwarded post. Propose entries from it? Its channel becomes the source.")],
        InlineKeyboardMarkup([[button(_("📝 Propose entries"), f"pp:fw:{message_id}")]]),
    )
