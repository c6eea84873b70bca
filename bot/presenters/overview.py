"""What a newcomer sees first: the briefing behind the knowledge base, in a few lines."""

from __future__ import annotations

from datetime import UTC

from babel.dates import format_datetime

from bot.i18n import SOURCE_LANGUAGE, number, supported, translator
from bot.presenters.entries import shown
from bot.presenters.html import Reply, clip, esc
from knowledge.read.overview import Overview

# "02 Dec 2026, 10:35" · "2 грудня 2026, 10:35"
_UPDATED_PATTERN = {"en": "dd MMM y, HH:mm", "uk": "d MMMM y, HH:mm"}


def about(view: Overview, *, language: str = SOURCE_LANGUAGE) -> Reply:
    tr = translator(language)
    _ = tr.gettext
    lines = [f"<b>{esc(clip(view.title, 200))}</b>"]
    if view.summary:
        lines.append(esc(clip(view.summary, 1200)))
    if view.origin or view.url:
        where = esc(clip(view.origin, 200)) or _("the original briefing")
        if view.url:
            where = f'<a href="{esc(view.url)}">{where}</a>'
        lines.append(
            _(
                "Curated from {where}, in the curators' own words; every fact names its source, "
                "and 🏛 marks what the curators added from public record."
            ).format(where=where)
        )

    events, actors, sources = (view.counts.get(kind, 0) for kind in ("event", "actor", "source"))
    held = " · ".join(
        [
            tr.ngettext("{count} event", "{count} events", events).format(
                count=number(events, language)
            ),
            tr.ngettext(
                "{count} person or organisation", "{count} people and organisations", actors
            ).format(count=number(actors, language)),
            tr.ngettext("{count} source", "{count} sources", sources).format(
                count=number(sources, language)
            ),
        ]
    )
    lines.append(_("Holds {counts}.").format(counts=held))
    if view.updated_at is not None:
        code = supported(language) or SOURCE_LANGUAGE
        when = format_datetime(
            view.updated_at, _UPDATED_PATTERN.get(code, "medium"), tzinfo=UTC, locale=code
        )
        lines.append(_("Last updated {when} UTC.").format(when=when))
    if view.recent:
        changed = "; ".join(f"{shown(r.name, 80, r.untranslated)} #{r.id}" for r in view.recent)
        lines.append(_("Changed lately: {entries}.").format(entries=changed))
    return Reply(["\n\n".join(lines)])
