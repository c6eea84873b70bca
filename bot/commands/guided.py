"""The guided /add flow's questions, each answer checked as it is typed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from bot.commands.curation import parse_date_argument
from knowledge.models import (
    ActorKind,
    EntryKind,
    SourceKind,
)
from knowledge.write.records import LIMITS, CurationError, as_choice
from knowledge.write.requests import ChangeRequest
from knowledge.write.resolve import (
    refuse_taken_source_name,
    resolve_actors,
    resolve_sources,
    split_names,
)


@dataclass(frozen=True)
class Step:
    """One question of the guided flow."""

    field: str
    prompt: str
    optional: bool = False
    choices: tuple[str, ...] = ()


GUIDED_STEPS: dict[str, tuple[Step, ...]] = {
    EntryKind.EVENT: (
        Step("date", "Date: YYYY, YYYY-MM or YYYY-MM-DD"),
        Step("title", f"Title (up to {LIMITS['title']} characters)"),
        Step("summary", f"Summary (up to {LIMITS['summary']} characters), or - for none", True),
        Step("sources", "Sources, by name, separated by ;"),
        Step("actors", "Actors, by name, separated by ; — or - for none", True),
    ),
    EntryKind.ACTOR: (
        Step("name", f"Name (up to {LIMITS['name']} characters)"),
        Step("kind", "Kind", choices=tuple(k.value for k in ActorKind)),
        Step("role", f"Role (up to {LIMITS['role']} characters), or - for none", True),
        Step("aliases", "Other names, separated by commas — or - for none", True),
    ),
    EntryKind.SOURCE: (
        Step("name", f"Name (up to {LIMITS['name']} characters)"),
        Step("kind", "Kind", choices=tuple(k.value for k in SourceKind)),
        Step("url", "Web address (http:// or https://), or - for none", True),
    ),
}


def check_step(session: Session, kind: str, step: Step, text: str) -> Any:
    """Validate one answer of the guided flow as it is typed; return the value to keep."""
    text = text.strip()
    empty = text in ("", "-")
    if empty and step.optional:
        return [] if step.field in ("aliases", "actors") else ""
    if empty:
        raise CurationError(f"{step.field} must not be empty")
    if step.choices:
        value = as_choice(text, step.choices)
        if value is None:
            words = ", ".join(c.replace("_", " ") for c in step.choices)
            raise CurationError(f"{step.field} must be one of: {words}")
        return value
    if step.field == "date":
        return parse_date_argument(text)
    if step.field == "sources":
        return resolve_sources(session, text)
    if step.field == "actors":
        return resolve_actors(session, text)
    if step.field == "aliases":
        aliases = split_names(text, ",")
        for alias in aliases:
            if len(alias) > LIMITS["alias"]:
                raise CurationError(
                    f"alias is {len(alias)} characters; the limit is {LIMITS['alias']}"
                )
        return aliases
    if step.field == "url" and not re.match(r"^https?://[^\s<>\"]+$", text):
        raise CurationError("url must start with http:// or https://")
    if step.field == "name" and kind == EntryKind.SOURCE:
        refuse_taken_source_name(session, text)
    limit = LIMITS.get(step.field)
    if limit is not None and len(text) > limit:
        raise CurationError(f"{step.field} is {len(text)} characters; the limit is {limit}")
    return text


def guided_change(kind: str, values: dict[str, Any]) -> ChangeRequest:
    """The answers of a finished guided flow as a create change."""
    record = dict(values)
    if kind == EntryKind.EVENT:
        record["citations"] = [{"source": s, "note": ""} for s in record.pop("sources", [])]
    if kind == EntryKind.SOURCE:
        record["url"] = record.get("url") or None
    return ChangeRequest("create", {"record": record}, kind)
