"""Search results: what matched, best first, each with its date, role or kind, paged."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.i18n import SOURCE_LANGUAGE, translator
from bot.presenters.entries import (
    CURATORS_MARK,
    KIND_NAME,
    named,
    nav_row,
    open_rows,
    shown,
    span,
)
from bot.presenters.html import Reply, clip, esc, split_blocks
from knowledge.read.views import Page, SearchResult


def search_page(
    query: str,
    query_id: int,
    page: Page[SearchResult],
    *,
    suggestion: str | None = None,
    language: str = SOURCE_LANGUAGE,
) -> Reply:
    _ = translator(language).gettext
    q = esc(clip(query, 80))
    if not page.items:
        if suggestion:
            meant = esc(clip(suggestion, 80))
            return Reply(
                [
                    _(
                        "Nothing matches “{query}”. Did you mean <code>/search {meant}</code>?"
                    ).format(query=q, meant=meant)
                ]
            )
        return Reply(
            [_("Nothing matches “{query}”. Try other words, or browse /timeline.").format(query=q)]
        )
    first, last = page.offset + 1, page.offset + len(page.items)
    icon = {"event": "🗓", "actor": "👤", "source": "📚"}
    lines = [
        f"{icon.get(r.kind, '•')}{'' if r.from_briefing else CURATORS_MARK} "
        f"{shown(r.title, 150, r.untranslated)} — <i>{esc(clip(_subtitle(r, language), 80))}</i>"
        + (" · " + _("has: {words}").format(words=esc(", ".join(r.matched))) if r.matched else "")
        + f" #{r.id}"
        for r in page.items
    ]
    more = "+" if page.more else ""  # counted only as far as search ranks
    head = _("<b>Search</b> “{query}”").format(query=q)
    head += f" · {span(first, last, page.total, language)}{more}"
    if page.partial and page.offset == 0 and all(r.matched for r in page.items):
        head += (
            "\n<i>" + _("Nothing has every word; these have some of them, best first.") + "</i>"
        )
    elif page.partial:
        head += (
            "\n<i>"
            + _("Entries with every word come first, then those with some of them.")
            + "</i>"
        )
    if page.more:
        lines.append(
            "<i>"
            + _("The most recent matches, best first: add a word to narrow it down.")
            + "</i>"
        )
    rows = open_rows([r.id for r in page.items], "open")
    if page.total > page.limit:
        prev_data = f"sr:{query_id}:{max(page.offset - page.limit, 0)}" if page.has_prev else None
        next_data = f"sr:{query_id}:{page.offset + page.limit}" if page.has_next else None
        pages = (page.total + page.limit - 1) // page.limit
        label = f"{page.offset // page.limit + 1}/{pages}{more}"
        rows.append(nav_row(prev_data, next_data, label))
    return Reply(split_blocks([head, *lines]), InlineKeyboardMarkup(rows))


def _subtitle(result: SearchResult, language: str) -> str:
    """An event's date, an actor's role (or kind), a source's kind, in `language`."""
    if result.kind == "source" or (result.kind == "actor" and result.subtitle in KIND_NAME):
        return named(KIND_NAME, result.subtitle.replace(" ", "_"), language)
    return result.subtitle
