"""/propose in chat: a batch's summary, one card per proposal with its buttons, the edit steps
and the outcomes. Plain values in (knowledge/write/proposals/views.py), HTML and buttons out.

Callback data: pp:a:ID approve, pp:r:ID reject, pp:e:ID edit (choose a field), pp:f:ID:FIELD
edit that field, pp:all:BATCH approve all, pp:m:BATCH:FROM the next cards, pp:fw:MESSAGE
propose a forwarded post.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardMarkup

from bot.presenters.html import Reply, button, clip, esc, split_blocks
from knowledge.language.dates import format_date, parse_date
from knowledge.write.proposals.review import PROPOSAL_FIELDS
from knowledge.write.proposals.views import ProposalView

CARDS_AT_ONCE = 8

HOW = (
    "<b>/propose</b> reads a briefing and proposes entries for you to review:\n"
    "• <code>/propose source: NAME</code>, then the text on the next lines;\n"
    "• <code>/propose [SOURCE]</code> in reply to a message or a forwarded channel post;\n"
    "• a .txt, .md or .html file with the caption <code>/propose [SOURCE]</code>."
)

ASK_SOURCE = (
    "Which source is this text from? Send its name — a source the knowledge base has, or a "
    "new one to propose. /cancel stops."
)

_STATE = {"applied": "✅ approved", "pending": "⏳ waiting for a second moderator",
          "rejected": "✖ rejected"}  # fmt: skip


def _date(view: ProposalView) -> str:
    if not view.date or not view.precision:
        return "<i>undated in the text</i> — set a date before approving"
    shown = format_date(parse_date(view.date).start, view.precision, None)
    if view.precision == "approximate":
        shown = f"c. {view.date}"
    words = f" (“{esc(clip(view.date_text, 60))}”)" if view.date_text else ""
    return f"{esc(shown)} · {esc(view.precision)}{words}"


def card_text(view: ProposalView) -> str:
    """One proposal as the moderator reviews it."""
    head = f"<b>Proposal {view.id}</b> · {esc(view.kind)}"
    if view.kind != "event":
        lines = [f"{head}: new {esc(view.kind)}", f"<b>{esc(clip(view.title, 200))}</b> · "
                 f"{esc((view.entity_kind or '').replace('_', ' '))}"]  # fmt: skip
        if view.sentence:
            lines.append(f"<i>First seen in:</i> “{esc(clip(view.sentence, 600))}”")
    else:
        if view.update_of is not None:
            head += f" — adds to #{view.update_of} “{esc(clip(view.update_title or '', 100))}”"
        actors = ", ".join(esc(a) for a in view.actors) or "—"
        if view.new_actors:
            actors += " · new: " + ", ".join(esc(a) for a in view.new_actors)
        by = f" (credited to {esc(clip(view.attributed_to, 80))})" if view.attributed_to else ""
        lines = [
            head,
            f"“{esc(clip(view.sentence, 1200))}”",
            f"<b>Title:</b> {esc(clip(view.title, 200))}",
            f"<b>Date:</b> {_date(view)}",
            f"<b>Actors:</b> {actors}",
            f"<b>Source:</b> {esc(view.source)}{by} · <b>status:</b> {esc(view.status)}",
        ]
    if view.state in _STATE:
        lines.append(_STATE[view.state])
    return "\n".join(lines)


def _buttons(view: ProposalView) -> InlineKeyboardMarkup | None:
    if view.state != "proposed":
        return None
    return InlineKeyboardMarkup(
        [[
            button("✅ Approve", f"pp:a:{view.id}"),
            button("✏️ Edit", f"pp:e:{view.id}"),
            button("✖ Reject", f"pp:r:{view.id}"),
        ]]
    )  # fmt: skip


def card(view: ProposalView) -> Reply:
    return Reply(split_blocks([card_text(view)]), _buttons(view))


def batch_summary(
    views: Sequence[ProposalView], *, source: str, sentences: int, review: bool
) -> Reply:
    """The head of a batch: what was found, and "approve all"."""
    events = [v for v in views if v.kind == "event"]
    undated = sum(1 for v in events if not v.date)
    updates = sum(1 for v in events if v.update_of is not None)
    others = len(views) - len(events)
    if not views:
        return Reply(
            [
                f"I read {sentences} sentences and found nothing to propose: none reports "
                "an event with its actors or a date. Nothing was saved."
            ]
        )
    lines = [
        f"📝 <b>{len(events)} proposed event{'s' if len(events) != 1 else ''}</b> from "
        f"{sentences} sentences, source “{esc(clip(source, 100))}”"
        + (
            f", and {others} new name{'s' if others != 1 else ''} (actors or a source)"
            if others
            else ""
        )
        + ".",
    ]
    if updates:
        lines.append(f"{updates} add to events the knowledge base already has.")
    if undated:
        lines.append(
            f"{undated} {'is' if undated == 1 else 'are'} undated in the text: give "
            f"{'it' if undated == 1 else 'each'} a date (✏️ Edit) before approving."
        )
    lines.append(
        "Each card shows the sentence it comes from. Nothing is published until approved"
        + (" — and, with review on, approved again by a second moderator." if review else ".")
    )
    first = views[0].batch
    return Reply(
        split_blocks(["\n".join(lines)]),
        InlineKeyboardMarkup([[button("✅ Approve all", f"pp:all:{first}")]]),
    )


def more_button(batch: int, start: int, left: int) -> Reply:
    return Reply(
        [f"{left} more proposal{'s' if left != 1 else ''}."],
        InlineKeyboardMarkup([[button("Show more", f"pp:m:{batch}:{start}")]]),
    )


def fields(view: ProposalView) -> Reply:
    """Which field to edit."""
    rows = [
        [button(name, f"pp:f:{view.id}:{name}") for name in PROPOSAL_FIELDS[view.kind][i : i + 3]]
        for i in range(0, len(PROPOSAL_FIELDS[view.kind]), 3)
    ]
    return Reply(
        [f"{card_text(view)}\n\nWhich field of proposal {view.id} do you want to change?"],
        InlineKeyboardMarkup(rows),
    )


_ASK = {
    "date": "YYYY, YYYY-MM or YYYY-MM-DD; put ~ in front for an approximate date (~2023)",
    "title": "the title, up to 200 characters",
    "status": "confirmed, reported or claimed",
    "source": "the source's name",
    "actors": "the actors' names, separated by commas",
    "name": "the name",
    "kind": "the kind (person, organisation, state, group, media, place — or for a source: "
    "telegram channel, news outlet, official, analysis, public record, briefing)",
}


def ask_value(draft_id: int, field: str) -> Reply:
    return Reply([f"Send the new {esc(field)} of proposal {draft_id}: {esc(_ASK[field])}. "
                  "/cancel keeps it as it is."])  # fmt: skip


def approved(views: Sequence[ProposalView], entry_ids: Sequence[int], *, review: bool) -> Reply:
    names = ", ".join(f"{v.id}" for v in views)
    if review:
        return Reply([f"✅ Proposal {esc(names)} approved by you; with review on, it now waits "
                      "for a second moderator (/pending)."])  # fmt: skip
    made = ", ".join(f"#{i}" for i in entry_ids)
    return Reply([f"✅ Proposal {esc(names)} approved and published as {esc(made)}."])


def batch_approved(approved_ids: Sequence[int], skipped: Sequence[tuple[int, str]],
                   *, review: bool) -> Reply:  # fmt: skip
    head = f"✅ {len(approved_ids)} proposal{'s' if len(approved_ids) != 1 else ''} approved"
    head += " — each now waits for a second moderator (/pending)." if review else "."
    lines = [head]
    if skipped:
        lines.append(f"{len(skipped)} left for you:")
        lines += [f"• {pid}: {esc(clip(why, 200))}" for pid, why in skipped[:30]]
        if len(skipped) > 30:
            lines.append(f"… and {len(skipped) - 30} more")
    return Reply(split_blocks(lines))


def forward_offer(message_id: int) -> Reply:
    """Offered to a moderator who forwards a post in a private chat."""
    return Reply(
        ["A forwarded post. Propose entries from it? Its channel becomes the source."],
        InlineKeyboardMarkup([[button("📝 Propose entries", f"pp:fw:{message_id}")]]),
    )
