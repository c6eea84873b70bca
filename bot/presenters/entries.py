"""Readers' replies: timeline pages, event, actor and source cards, search results."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import N_, SOURCE_LANGUAGE, number, translator
from bot.presenters.html import Reply, button, clip, esc, numbered, split_blocks
from knowledge.read.timeline import BRIEFING_LABEL
from knowledge.read.views import (
    ActorDetail,
    ActorMatch,
    CitationView,
    EventDetail,
    EventLine,
    Page,
    PageKey,
    Ref,
    SourceDetail,
    SourceLine,
)

STATUS_MARK = {"confirmed": "✅", "reported": "📰", "claimed": "💬"}
# Beside every line whose only support is what the curators added from public record.
CURATORS_MARK = "🏛"
CURATORS_NOTE = N_("🏛 added by the curators from public record, not from the briefing")
STATUS_NAME = {"confirmed": N_("confirmed"), "reported": N_("reported"), "claimed": N_("claimed")}


# After a field shown in the curated original because it has no translation in the reader's
# language: the text is never left empty, and the reader knows why it is in English.
ORIGINAL_MARK = "<i>[en]</i>"


def shown(text: str, limit: int, untranslated: bool) -> str:
    """Clipped, escaped text, marked when it is the original for want of a translation."""
    return esc(clip(text, limit)) + (f" {ORIGINAL_MARK}" if untranslated else "")


_KIND_TITLE = {
    "person": N_("People"),
    "organisation": N_("Organisations"),
    "state": N_("States"),
    "group": N_("Groups of states"),
    "media": N_("Media"),
    "place": N_("Places"),
}
# An actor's or a source's kind as a card names it.
KIND_NAME = {
    "person": N_("person"),
    "organisation": N_("organisation"),
    "state": N_("state"),
    "group": N_("group"),
    "media": N_("media"),
    "place": N_("place"),
    "telegram_channel": N_("telegram channel"),
    "news_outlet": N_("news outlet"),
    "official": N_("official"),
    "analysis": N_("analysis"),
    "public_record": N_("public record"),
    "briefing": N_("briefing"),
}


def named(table: dict[str, str], key: str, language: str) -> str:
    """The translated name of a known value; an unknown one as it is (never gettext(""))."""
    known = table.get(key)
    return translator(language).gettext(known) if known else key.replace("_", " ")


def event_line(line: EventLine) -> str:
    mark = STATUS_MARK.get(line.status, "•") + ("" if line.from_briefing else CURATORS_MARK)
    return (
        f"{mark} <b>{esc(clip(line.date_text, 80))}</b> — "
        f"{shown(line.title, 160, line.untranslated)} #{line.id}"
    )


def _citation(c: CitationView) -> str:
    name = esc(clip(c.source_name, 120))
    if c.url:
        name = f'<a href="{esc(c.url)}">{name}</a>'
    if c.untranslated:
        name += f" {ORIGINAL_MARK}"
    note = f" — <i>{esc(clip(c.note, 600))}</i>" if c.note else ""
    if c.note and c.note_untranslated:
        note += f" {ORIGINAL_MARK}"
    return f"• {name}{note}"


def event_card(detail: EventDetail, *, language: str = SOURCE_LANGUAGE) -> Reply:
    """The whole entry: date, title, summary, status, actors, topics and citations."""
    _ = translator(language).gettext
    status = (
        _("❌ retracted")
        if detail.retracted
        else f"{STATUS_MARK.get(detail.status, '')} "
        + esc(named(STATUS_NAME, detail.status, language))
    )
    missing = set(detail.untranslated)
    head = [
        f"<b>{esc(clip(detail.title, 200))}</b>"
        + (f" {ORIGINAL_MARK}" if "title" in missing else ""),
        f"📅 {esc(clip(detail.date_text, 200))}",
    ]
    head.append(_("Status: {status} · #{id}").format(status=status, id=detail.id))
    if not detail.from_briefing:
        head.append(f"<i>{_(CURATORS_NOTE)}</i>")
    if detail.retracted:
        reason = esc(clip(detail.retracted_reason or "", 500))
        head.append(_("<i>Retracted: {reason}</i>").format(reason=reason))
    blocks = ["\n".join(head)]
    if detail.summary:
        blocks.append(shown(detail.summary, 2000, "summary" in missing))
    if detail.actors:
        names = ", ".join(shown(a.name, 80, a.untranslated) for a in detail.actors[:40])
        blocks.append(f"👥 {names}")
    if detail.topics:
        blocks.append("🏷 " + " ".join(f"#{esc(t)}" for t in detail.topics))
    if detail.citations:
        blocks.append(
            _("<b>Sources</b>") + "\n" + "\n".join(_citation(c) for c in detail.citations)
        )
    rows = [[button(f"👤 {clip(a.name, 30)}", f"who:{a.id}") for a in detail.actors[i : i + 3]]
            for i in range(0, min(len(detail.actors), 6), 3)]  # fmt: skip
    keyboard = InlineKeyboardMarkup(rows) if rows else None
    return Reply(numbered(split_blocks(blocks), language), keyboard)


def actor_card(detail: ActorDetail, *, language: str = SOURCE_LANGUAGE) -> Reply:
    _ = translator(language).gettext
    missing = set(detail.untranslated)
    name = f"<b>{esc(clip(detail.name, 200))}</b>" + (
        f" {ORIGINAL_MARK}" if "name" in missing else ""
    )
    head = [f"{name} · {esc(named(KIND_NAME, detail.kind, language))} · #{detail.id}"]
    if not detail.from_briefing:
        head.append(f"<i>{_(CURATORS_NOTE)}</i>")
    if detail.retracted_reason is not None:
        reason = esc(clip(detail.retracted_reason, 500))
        head.append(_("<i>Retracted: {reason}</i>").format(reason=reason))
    if detail.role:
        role = f"<i>{esc(clip(detail.role, 300))}</i>"
        head.append(role + (f" {ORIGINAL_MARK}" if "role" in missing else ""))
    blocks = ["\n".join(head)]
    if detail.description:
        blocks.append(shown(detail.description, 2000, "description" in missing))
    if detail.aliases:
        aliases = ", ".join(esc(clip(a, 80)) for a in detail.aliases[:40])
        blocks.append(_("Also known as: {aliases}").format(aliases=aliases))
    if detail.events:
        more = detail.event_count - len(detail.events)
        lines = [event_line(e) for e in detail.events]
        if more > 0:
            lines.append(and_more(more, language))
        count = number(detail.event_count, language)
        blocks.append(_("<b>Events ({count})</b>").format(count=count) + "\n" + "\n".join(lines))
    if detail.sources:
        blocks.append(_("<b>Sources</b>") + "\n" + "\n".join(_citation(c) for c in detail.sources))
    rows = []
    if detail.event_count:
        rows.append([button(_("🗓 Timeline"), f"tl:a{detail.id}:0")])
    keyboard = InlineKeyboardMarkup(rows) if rows else None
    return Reply(numbered(split_blocks(blocks), language), keyboard)


def and_more(count: int, language: str) -> str:
    """ "… and 3 more", after a list cut short."""
    tr = translator(language)
    text = tr.ngettext("… and {count} more", "… and {count} more", count)
    return text.format(count=number(count, language))


def actor_choices(
    query: str, matches: Sequence[ActorMatch], *, language: str = SOURCE_LANGUAGE
) -> Reply:
    _ = translator(language).gettext
    text = _("Several entries match “{query}”. Which one do you mean?").format(
        query=esc(clip(query, 60))
    )
    rows = [[button(clip(m.name, 40), f"who:{m.id}")] for m in matches]
    return Reply([text], InlineKeyboardMarkup(rows))


def actors_overview(
    grouped: dict[str, tuple[list[Ref], int]], *, language: str = SOURCE_LANGUAGE
) -> Reply:
    _ = translator(language).gettext
    if not grouped:
        return Reply([_("No people or organisations are recorded yet.")])
    blocks = [_("<b>Who is who</b> — send <code>/who name</code> for details.")]
    for kind, (refs, count) in grouped.items():
        names = ", ".join(shown(r.name, 60, r.untranslated) for r in refs)
        more = " " + and_more(count - len(refs), language) if count > len(refs) else ""
        title = _(_KIND_TITLE[kind]) if kind in _KIND_TITLE else kind.title()
        blocks.append(f"<b>{esc(title)}</b> ({number(count, language)})\n{names}{more}")
    return Reply(numbered(split_blocks(blocks), language))


def nav_row(
    prev_data: str | None, next_data: str | None, label: str
) -> list[InlineKeyboardButton]:
    row = []
    if prev_data:
        row.append(button("◀", prev_data))
    row.append(button(label, "noop"))
    if next_data:
        row.append(button("▶", next_data))
    return row


def open_rows(ids: Sequence[int], prefix: str) -> list[list[InlineKeyboardButton]]:
    buttons = [button(f"#{i}", f"{prefix}:{i}") for i in ids]
    return [buttons[i : i + 5] for i in range(0, len(buttons), 5)]


def span(first: int, last: int, total: int, language: str) -> str:
    """ "11–20 of 57"."""
    return (
        translator(language)
        .gettext("{first}–{last} of {total}")
        .format(first=first, last=last, total=number(total, language))
    )


def timeline_page(
    page: Page[EventLine], filter_label: str, filter_code: str, *, language: str = SOURCE_LANGUAGE
) -> Reply:
    _ = translator(language).gettext
    if filter_label == BRIEFING_LABEL:
        filter_label = _(BRIEFING_LABEL)
    if not page.items:
        if filter_label:
            label = esc(clip(filter_label, 80))
            return Reply([_("No events match “{filter}”. Try /timeline.").format(filter=label)])
        return Reply([_("The timeline is empty for now.")])
    first, last = page.offset + 1, page.offset + len(page.items)
    title = _("<b>Timeline</b>")
    if filter_label:
        title += f" · {esc(clip(filter_label, 80))}"
    head = f"{title} · {span(first, last, page.total, language)}"
    body = "\n".join(event_line(line) for line in page.items)
    legend = _("✅ confirmed · 📰 reported · 💬 claimed")
    if any(not line.from_briefing for line in page.items):
        legend += " · " + _("{mark} curators' addition").format(mark=CURATORS_MARK)
    legend = "<i>" + _("{legend} — tap a number to open it").format(legend=legend) + "</i>"
    # ◀ ▶ carry the key of this page's edge, so page 10,000 costs what page 1 does.
    prev_data = next_data = None
    if page.has_prev:
        prev_data = f"tl:{filter_code}:0"
        if page.offset > page.limit:
            edge = page.items[0]
            key = PageKey(edge.rank, edge.id, before=True).code()
            prev_data = f"tl:{filter_code}:{page.offset - page.limit}:{key}"
    if page.has_next:
        edge = page.items[-1]
        key = PageKey(edge.rank, edge.id).code()
        next_data = f"tl:{filter_code}:{page.offset + len(page.items)}:{key}"
    pages = (page.total + page.limit - 1) // page.limit
    # Numbered by the last line shown: after a change the page may start off the grid.
    label = f"{(page.offset + len(page.items) - 1) // page.limit + 1}/{pages}"
    rows = open_rows([line.id for line in page.items], "ev")
    if page.total > page.limit:
        rows.append(nav_row(prev_data, next_data, label))
    return Reply(split_blocks([head, body, legend]), InlineKeyboardMarkup(rows))


def entries_count(count: int, language: str) -> str:
    """ "1 entry", "5 entries" (1 запис, 2 записи, 5 записів)."""
    text = translator(language).ngettext("{count} entry", "{count} entries", count)
    return text.format(count=number(count, language))


def sources_overview(
    lines: Sequence[SourceLine], total: int | None = None, *, language: str = SOURCE_LANGUAGE
) -> Reply:
    """The most cited sources; `total` says how many there are when `lines` is only the top."""
    _ = translator(language).gettext
    if not lines:
        return Reply([_("No sources are recorded yet.")])
    body = [
        f"• {shown(s.name, 120, s.untranslated)} "
        f"<i>({esc(named(KIND_NAME, s.kind, language))})</i> — "
        f"{entries_count(s.citations, language)} #{s.id}"
        for s in lines
    ]
    if total is not None and total > len(lines):
        body.append(
            _("… and {count} more: <code>/sources name</code> finds any.").format(
                count=number(total - len(lines), language)
            )
        )
    head = _("<b>Sources</b> — <code>/sources name</code> shows what a source backs.")
    rows = [[button(clip(s.name, 40), f"src:{s.id}")] for s in lines[:20]]
    return Reply(numbered(split_blocks([head, *body]), language), InlineKeyboardMarkup(rows))


def source_card(detail: SourceDetail, *, language: str = SOURCE_LANGUAGE) -> Reply:
    _ = translator(language).gettext
    missing = set(detail.untranslated)
    name = f"<b>{esc(clip(detail.name, 200))}</b>" + (
        f" {ORIGINAL_MARK}" if "name" in missing else ""
    )
    head = [f"{name} · {esc(named(KIND_NAME, detail.kind, language))} · #{detail.id}"]
    if detail.url:
        head.append(f'<a href="{esc(detail.url)}">{esc(clip(detail.url, 200))}</a>')
    if detail.retracted_reason is not None:
        reason = esc(clip(detail.retracted_reason, 500))
        head.append(_("<i>Retracted: {reason}</i>").format(reason=reason))
    blocks = ["\n".join(head)]
    if detail.reliability:
        reliability = f"<i>{esc(clip(detail.reliability, 1000))}</i>"
        if "reliability" in missing:
            reliability += f" {ORIGINAL_MARK}"
        blocks.append(_("Reliability: {reliability}").format(reliability=reliability))
    if detail.backs:
        lines = [f"• {shown(r.name, 150, r.untranslated)} #{r.id}" for r in detail.backs]
        if detail.backs_count > len(detail.backs):
            lines.append(and_more(detail.backs_count - len(detail.backs), language))
        backs = translator(language).ngettext(
            "<b>Backs {count} entry</b>", "<b>Backs {count} entries</b>", detail.backs_count
        )
        blocks.append(
            backs.format(count=number(detail.backs_count, language)) + "\n" + "\n".join(lines)
        )
    else:
        blocks.append(_("No published entry cites it."))
    rows = open_rows([r.id for r in detail.backs[:10]], "open")
    keyboard = InlineKeyboardMarkup(rows) if rows else None
    return Reply(numbered(split_blocks(blocks), language), keyboard)


def entry_citations(
    entry_id: int,
    title: str,
    citations: Sequence[CitationView],
    *,
    language: str = SOURCE_LANGUAGE,
) -> Reply:
    _ = translator(language).gettext
    head = _("<b>Sources for #{id}</b>").format(id=entry_id) + f" · {esc(clip(title, 150))}"
    if not citations:
        return Reply([head + "\n" + _("No sources are recorded for it.")])
    return Reply(numbered(split_blocks([head, *(_citation(c) for c in citations)]), language))
