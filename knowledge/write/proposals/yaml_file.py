"""A batch of proposals as a YAML file in the knowledge/data format, for review and /import.

Events the text leaves undated keep `date: null` with a comment: the file imports once a
person has dated them. An update to an existing event is written as that entry with the new
citation added, under its own slug, so importing it updates the entry.
"""

from __future__ import annotations

from typing import Any

import yaml
from sqlmodel import Session

from knowledge.models import EntryKind
from knowledge.write.curation import get_entry, unique_slug
from knowledge.write.proposals.model import Batch
from knowledge.write.records import snapshot


def batch_yaml(session: Session, batch: Batch) -> str:
    sources = [batch.new_source.record()] if batch.new_source else []
    actors = [actor.record() for actor in batch.actors]
    events: list[dict[str, Any]] = []
    taken: set[str] = set()
    undated = 0
    for proposal in batch.events:
        record = proposal.record()
        if proposal.update_of is not None:
            current = snapshot(session, get_entry(session, proposal.update_of))
            current.pop("retracted", None)
            current["citations"] = [*current["citations"], *record["citations"]]
            current["actors"] = sorted(set(current["actors"]) | set(record["actors"]))
            events.append(current)
            continue
        slug = base = unique_slug(session, EntryKind.EVENT, proposal.title)[:70]
        n = 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        if record["date"] is None:
            undated += 1
            record["date_label"] = "undated in the text: set a date before importing"
        events.append({"slug": slug, **record})
    header = (
        f"# Proposed from a briefing (source: {batch.origin.source}); every entry awaits review.\n"
        f"# Events: {len(batch.events)} from {batch.sentences} sentences; new actors: "
        f"{len(actors)}; new sources: {len(sources)}. Undated in the text (to be dated before "
        f"/import): {undated}.\n"
    )
    body = {"sources": sources, "actors": actors, "events": events}
    return header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=99)
