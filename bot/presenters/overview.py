"""What a newcomer sees first: the briefing behind the knowledge base, in a few lines."""

from __future__ import annotations

from bot.presenters.html import Reply, clip, esc
from knowledge.read.overview import Overview

_KINDS = (("event", "events"), ("actor", "people and organisations"), ("source", "sources"))


def about(view: Overview) -> Reply:
    lines = [f"<b>{esc(clip(view.title, 200))}</b>"]
    if view.summary:
        lines.append(esc(clip(view.summary, 1200)))
    if view.origin or view.url:
        where = esc(clip(view.origin, 200)) or "the original briefing"
        if view.url:
            where = f'<a href="{esc(view.url)}">{where}</a>'
        lines.append(
            f"Curated from {where}, in the curators' own words; every fact names its source, "
            "and 🏛 marks what the curators added from public record."
        )
    held = " · ".join(f"{view.counts.get(kind, 0)} {label}" for kind, label in _KINDS)
    lines.append(f"Holds {held}.")
    if view.updated_at is not None:
        lines.append(f"Last updated {view.updated_at:%d %b %Y, %H:%M} UTC.")
    if view.recent:
        changed = "; ".join(f"{esc(clip(r.name, 80))} #{r.id}" for r in view.recent)
        lines.append(f"Changed lately: {changed}.")
    return Reply(["\n\n".join(lines)])
