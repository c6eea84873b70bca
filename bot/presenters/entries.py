"""Readers' replies: timeline pages, event, actor and source cards, search results."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.presenters.html import Reply, button, clip, esc, numbered, split_blocks
from knowledge.read.views import (
    ActorDetail,
    ActorMatch,
    CitationView,
    EventDetail,
    EventLine,
    Page,
    PageKey,
    Ref,
    SearchResult,
    SourceDetail,
    SourceLine,
)

STATUS_MARK = {"confirmed": "✅", "reported": "📰", "claimed": "💬"}
# Beside every line whose only support is what the curators added from public record.
CURATORS_MARK = "🏛"
CURATORS_NOTE = "🏛 added by the curators from public record, not from the briefing"


# After a field shown in the curated original because it has no translation in the reader's
# language: the text is never left empty, and the reader knows why it is in English.
ORIGINAL_MARK = "<i>[en]</i>"


def shown(text: str, limit: int, untranslated: bool) -> str:
    """Clipped, escaped text, marked when it is the original for want of a translation."""
    return esc(clip(text, limit)) + (f" {ORIGINAL_MARK}" if untranslated else "")


_KIND_TITLE = {
    "person": "People",
    "organisation": "Organisations",
    "state": "States",
    "group": "Groups of states",
    "media": "Media",
    "place": "Places",
}


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
    return f"• {name}{note}"


def event_card(detail: EventDetail) -> Reply:
    """The whole entry: date, title, summary, status, actors, topics and citations."""
    status = (
        "❌ retracted"
        if detail.retracted
        else f"{STATUS_MARK.get(detail.status, '')} " + (esc(detail.status))
    )
    missing = set(detail.untranslated)
    head = [
        f"<b>{esc(clip(detail.title, 200))}</b>"
        + (f" {ORIGINAL_MARK}" if "title" in missing else ""),
        f"📅 {esc(clip(detail.date_text, 200))}",
    ]
    head.append(f"Status: {status} · #{detail.id}")
    if not detail.from_briefing:
        head.append(f"<i>{CURATORS_NOTE}</i>")
    if detail.retracted:
        head.append(f"<i>Retracted: {esc(clip(detail.retracted_reason or '', 500))}</i>")
    blocks = ["\n".join(head)]
    if detail.summary:
        blocks.append(shown(detail.summary, 2000, "summary" in missing))
    if detail.actors:
        names = ", ".join(shown(a.name, 80, a.untranslated) for a in detail.actors[:40])
        blocks.append(f"👥 {names}")
    if detail.topics:
        blocks.append("🏷 " + " ".join(f"#{esc(t)}" for t in detail.topics))
    if detail.citations:
        blocks.append("<b>Sources</b>\n" + "\n".join(_citation(c) for c in detail.citations))
    rows = [[button(f"👤 {clip(a.name, 30)}", f"who:{a.id}") for a in detail.actors[i : i + 3]]
            for i in range(0, min(len(detail.actors), 6), 3)]  # fmt: skip
    keyboard = InlineKeyboardMarkup(rows) if rows else None
    return Reply(numbered(split_blocks(blocks)), keyboard)


def actor_card(detail: ActorDetail) -> Reply:
    missing = set(detail.untranslated)
    name = f"<b>{esc(clip(detail.name, 200))}</b>" + (
        f" {ORIGINAL_MARK}" if "name" in missing else ""
    )
    head = [f"{name} · {esc(detail.kind)} · #{detail.id}"]
    if not detail.from_briefing:
        head.append(f"<i>{CURATORS_NOTE}</i>")
    if detail.retracted_reason is not None:
        head.append(f"<i>Retracted: {esc(clip(detail.retracted_reason, 500))}</i>")
    if detail.role:
        role = f"<i>{esc(clip(detail.role, 300))}</i>"
        head.append(role + (f" {ORIGINAL_MARK}" if "role" in missing else ""))
    blocks = ["\n".join(head)]
    if detail.description:
        blocks.append(shown(detail.description, 2000, "description" in missing))
    if detail.aliases:
        blocks.append("Also known as: " + ", ".join(esc(clip(a, 80)) for a in detail.aliases[:40]))
    if detail.events:
        more = detail.event_count - len(detail.events)
        lines = [event_line(e) for e in detail.events]
        if more > 0:
            lines.append(f"… and {more} more")
        blocks.append(f"<b>Events ({detail.event_count})</b>\n" + "\n".join(lines))
    if detail.sources:
        blocks.append("<b>Sources</b>\n" + "\n".join(_citation(c) for c in detail.sources))
    rows = []
    if detail.event_count:
        rows.append([button("🗓 Timeline", f"tl:a{detail.id}:0")])
    return Reply(numbered(split_blocks(blocks)), InlineKeyboardMarkup(rows) if rows else None)


def actor_choices(query: str, matches: Sequence[ActorMatch]) -> Reply:
    text = f"Several entries match “{esc(clip(query, 60))}”. Which one do you mean?"
    rows = [[button(clip(m.name, 40), f"who:{m.id}")] for m in matches]
    return Reply([text], InlineKeyboardMarkup(rows))


def actors_overview(grouped: dict[str, tuple[list[Ref], int]]) -> Reply:
    if not grouped:
        return Reply(["No people or organisations are recorded yet."])
    blocks = ["<b>Who is who</b> — send <code>/who name</code> for details."]
    for kind, (refs, count) in grouped.items():
        names = ", ".join(shown(r.name, 60, r.untranslated) for r in refs)
        more = f" … and {count - len(refs)} more" if count > len(refs) else ""
        blocks.append(
            f"<b>{esc(_KIND_TITLE.get(kind, kind.title()))}</b> ({count})\n{names}{more}"
        )
    return Reply(numbered(split_blocks(blocks)))


def _nav_row(
    prev_data: str | None, next_data: str | None, label: str
) -> list[InlineKeyboardButton]:
    row = []
    if prev_data:
        row.append(button("◀", prev_data))
    row.append(button(label, "noop"))
    if next_data:
        row.append(button("▶", next_data))
    return row


def _open_rows(ids: Sequence[int], prefix: str) -> list[list[InlineKeyboardButton]]:
    buttons = [button(f"#{i}", f"{prefix}:{i}") for i in ids]
    return [buttons[i : i + 5] for i in range(0, len(buttons), 5)]


def timeline_page(page: Page[EventLine], filter_label: str, filter_code: str) -> Reply:
    if not page.items:
        if filter_label:
            return Reply([f"No events match “{esc(clip(filter_label, 80))}”. Try /timeline."])
        return Reply(["The timeline is empty for now."])
    first, last = page.offset + 1, page.offset + len(page.items)
    title = "<b>Timeline</b>"
    if filter_label:
        title += f" · {esc(clip(filter_label, 80))}"
    head = f"{title} · {first}–{last} of {page.total}"
    body = "\n".join(event_line(line) for line in page.items)
    legend = "✅ confirmed · 📰 reported · 💬 claimed"
    if any(not line.from_briefing for line in page.items):
        legend += f" · {CURATORS_MARK} curators' addition"
    legend = f"<i>{legend} — tap a number to open it</i>"
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
    rows = _open_rows([line.id for line in page.items], "ev")
    if page.total > page.limit:
        rows.append(_nav_row(prev_data, next_data, label))
    return Reply(split_blocks([head, body, legend]), InlineKeyboardMarkup(rows))


def sources_overview(lines: Sequence[SourceLine], total: int | None = None) -> Reply:
    """The most cited sources; `total` says how many there are when `lines` is only the top."""
    if not lines:
        return Reply(["No sources are recorded yet."])
    body = [
        f"• {shown(s.name, 120, s.untranslated)} <i>({esc(s.kind.replace('_', ' '))})</i> — "
        f"{s.citations} {'entry' if s.citations == 1 else 'entries'} #{s.id}"
        for s in lines
    ]
    if total is not None and total > len(lines):
        body.append(f"… and {total - len(lines)} more: <code>/sources name</code> finds any.")
    head = "<b>Sources</b> — <code>/sources name</code> shows what a source backs."
    rows = [[button(clip(s.name, 40), f"src:{s.id}")] for s in lines[:20]]
    return Reply(numbered(split_blocks([head, *body])), InlineKeyboardMarkup(rows))


def source_card(detail: SourceDetail) -> Reply:
    missing = set(detail.untranslated)
    name = f"<b>{esc(clip(detail.name, 200))}</b>" + (
        f" {ORIGINAL_MARK}" if "name" in missing else ""
    )
    head = [f"{name} · {esc(detail.kind.replace('_', ' '))} · #{detail.id}"]
    if detail.url:
        head.append(f'<a href="{esc(detail.url)}">{esc(clip(detail.url, 200))}</a>')
    if detail.retracted_reason is not None:
        head.append(f"<i>Retracted: {esc(clip(detail.retracted_reason, 500))}</i>")
    blocks = ["\n".join(head)]
    if detail.reliability:
        reliability = f"<i>{esc(clip(detail.reliability, 1000))}</i>"
        if "reliability" in missing:
            reliability += f" {ORIGINAL_MARK}"
        blocks.append(f"Reliability: {reliability}")
    if detail.backs:
        lines = [f"• {shown(r.name, 150, r.untranslated)} #{r.id}" for r in detail.backs]
        if detail.backs_count > len(detail.backs):
            lines.append(f"… and {detail.backs_count - len(detail.backs)} more")
        blocks.append(f"<b>Backs {detail.backs_count} entries</b>\n" + "\n".join(lines))
    else:
        blocks.append("No published entry cites it.")
    rows = _open_rows([r.id for r in detail.backs[:10]], "open")
    return Reply(numbered(split_blocks(blocks)), InlineKeyboardMarkup(rows) if rows else None)


def entry_citations(entry_id: int, title: str, citations: Sequence[CitationView]) -> Reply:
    head = f"<b>Sources for #{entry_id}</b> · {esc(clip(title, 150))}"
    if not citations:
        return Reply([head + "\nNo sources are recorded for it."])
    return Reply(numbered(split_blocks([head, *(_citation(c) for c in citations)])))


def search_page(
    query: str, query_id: int, page: Page[SearchResult], *, suggestion: str | None = None
) -> Reply:
    q = esc(clip(query, 80))
    if not page.items:
        if suggestion:
            meant = esc(clip(suggestion, 80))
            return Reply([f"Nothing matches “{q}”. Did you mean <code>/search {meant}</code>?"])
        return Reply([f"Nothing matches “{q}”. Try other words, or browse /timeline."])
    first, last = page.offset + 1, page.offset + len(page.items)
    icon = {"event": "🗓", "actor": "👤", "source": "📚"}
    lines = [
        f"{icon.get(r.kind, '•')}{'' if r.from_briefing else CURATORS_MARK} "
        f"{shown(r.title, 150, r.untranslated)} — <i>{esc(clip(r.subtitle, 80))}</i>"
        + (f" · has: {esc(', '.join(r.matched))}" if r.matched else "")
        + f" #{r.id}"
        for r in page.items
    ]
    more = "+" if page.more else ""  # counted only as far as search ranks
    head = f"<b>Search</b> “{q}” · {first}–{last} of {page.total}{more}"
    if page.partial and page.offset == 0 and all(r.matched for r in page.items):
        head += "\n<i>Nothing has every word; these have some of them, best first.</i>"
    elif page.partial:
        head += "\n<i>Entries with every word come first, then those with some of them.</i>"
    if page.more:
        lines.append("<i>The most recent matches, best first: add a word to narrow it down.</i>")
    rows = _open_rows([r.id for r in page.items], "open")
    if page.total > page.limit:
        prev_data = f"sr:{query_id}:{max(page.offset - page.limit, 0)}" if page.has_prev else None
        next_data = f"sr:{query_id}:{page.offset + page.limit}" if page.has_next else None
        pages = (page.total + page.limit - 1) // page.limit
        label = f"{page.offset // page.limit + 1}/{pages}{more}"
        rows.append(_nav_row(prev_data, next_data, label))
    return Reply(split_blocks([head, *lines]), InlineKeyboardMarkup(rows))
