"""The guided /add flow's questions, each answer checked as it is typed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from bot.commands.curation import parse_date_argument
from knowledge.language.wording import N_
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
    prompt: str  # an English template ({limit}: the field's length limit), translated where shown
    optional: bool = False
    choices: tuple[str, ...] = ()


GUIDED_STEPS: dict[str, tuple[Step, ...]] = {
    EntryKind.EVENT: (
        Step("date", N_("Date: YYYY, YYYY-MM or YYYY-MM-DD")),
        Step("title", N_("Title (up to {limit} characters)")),
        Step("summary", N_("Summary (up to {limit} characters), or - for none"), True),
        Step("sources", N_("Sources, by name, separated by ;")),
        Step("actors", N_("Actors, by name, separated by ; — or - for none"), True),
    ),
    EntryKind.ACTOR: (
        Step("name", N_("Name (up to {limit} characters)")),
        Step("kind", N_("Kind"), choices=tuple(k.value for k in ActorKind)),
        Step("role", N_("Role (up to {limit} characters), or - for none"), True),
        Step("aliases", N_("Other names, separated by commas — or - for none"), True),
    ),
    EntryKind.SOURCE: (
        Step("name", N_("Name (up to {limit} characters)")),
        Step("kind", N_("Kind"), choices=tuple(k.value for k in SourceKind)),
        Step("url", N_("Web address (http:// or https://), or - for none"), True),
    ),
}


def check_step(session: Session, kind: str, step: Step, text: str) -> Any:
    """Validate one answer of the guided flow as it is typed; return the value to keep."""
    text = text.strip()
    empty = text in ("", "-")
    if empty and step.optional:
        return [] if step.field in ("aliases", "actors") else ""
    if empty:
        raise CurationError(N_("{field} must not be empty"), field=step.field)
    if step.choices:
        value = as_choice(text, step.choices)
        if value is None:
            words = ", ".join(c.replace("_", " ") for c in step.choices)
            raise CurationError(
                N_("{field} must be one of: {words}"), field=step.field, words=words
            )
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
                    N_("{field} is {length} characters; the limit is {limit}"),
                    field="alias",
                    length=len(alias),
                    limit=LIMITS["alias"],
                )
        return aliases
    if step.field == "url" and not re.match(r"^https?://[^\s<>\"]+$", text):
        raise CurationError(N_("url must start with http:// or https://"))
    if step.field == "name" and kind == EntryKind.SOURCE:
        refuse_taken_source_name(session, text)
    limit = LIMITS.get(step.field)
    if limit is not None and len(text) > limit:
        raise CurationError(
            N_("{field} is {length} characters; the limit is {limit}"),
            field=step.field,
            length=len(text),
            limit=limit,
        )
    return text


def guided_change(kind: str, values: dict[str, Any]) -> ChangeRequest:
    """The answers of a finished guided flow as a create change."""
    record = dict(values)
    if kind == EntryKind.EVENT:
        record["citations"] = [{"source": s, "note": ""} for s in record.pop("sources", [])]
    if kind == EntryKind.SOURCE:
        record["url"] = record.get("url") or None
    return ChangeRequest("create", {"record": record}, kind)
