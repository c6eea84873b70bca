"""Curated records: the plain dicts entries are written from, validated, normalised and compared.

Records are in the curated-YAML shape (see knowledge/data/*.yaml), so the importer, the chat
commands, undo and export all speak one format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from knowledge.language.dates import DateError, iso_for, parse_date
from knowledge.language.names import strip_controls
from knowledge.language.wording import N_, Explained
from knowledge.models import (
    ORIGINAL_LANGUAGE,
    TRANSLATABLE_FIELDS,
    TRANSLATION_LANGUAGES,
    Actor,
    ActorKind,
    Alias,
    Citation,
    DatePrecision,
    Entry,
    EntryKind,
    EntryState,
    Event,
    EventActor,
    EventStatus,
    EventTopic,
    Source,
    SourceKind,
    Translation,
)


class CurationError(Explained):
    """A change that cannot be made; the message is safe to show the moderator as is.

    Raised with an English template and its values (`Explained`), the moderator reads it in
    their language where the template is marked `N_` for the catalogs; `str()` stays English
    for the audit trail and the logs."""


LIMITS = {
    "slug": 80,
    "title": 200,
    "summary": 2000,
    "date_label": 200,
    "name": 200,
    "role": 300,
    "description": 2000,
    "url": 500,
    "reliability": 1000,
    "alias": 200,
    "topic": 40,
    "note": 1000,
    "reason": 500,
}


MAX_ALIASES, MAX_TOPICS, MAX_LINKS = 40, 12, 40


# The fields a moderator may change with /edit, per kind, in the order /edit lists them.
EDITABLE_FIELDS: dict[str, tuple[str, ...]] = {
    EntryKind.EVENT: ("date", "precision", "date_label", "title", "summary", "status", "topics",
                      "actors", "sources", "after"),
    EntryKind.ACTOR: ("name", "kind", "role", "description", "aliases", "sources"),
    EntryKind.SOURCE: ("name", "kind", "url", "reliability"),
}  # fmt: skip


_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


_TOPIC_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


_URL_RE = re.compile(r"^https?://[^\s<>\"]+$")


def snapshot(session: Session, entry: Entry) -> dict[str, Any]:
    """The entry as a record in the curated-YAML shape (plus its state)."""
    assert entry.id is not None
    record: dict[str, Any] = {"slug": entry.slug}
    if entry.kind == EntryKind.EVENT:
        event = session.get_one(Event, entry.id)
        record |= {
            "date": iso_for(event.date_start, event.precision),
            "precision": event.precision,
            "date_label": event.date_label,
            **({"after": _slug_of(session, event.after_id)} if event.after_id else {}),
            "title": event.title,
            "summary": event.summary,
            "status": event.status,
            "topics": sorted(
                session.exec(select(EventTopic.topic).where(EventTopic.event_id == entry.id))
            ),
            "actors": sorted(
                session.exec(
                    select(Entry.slug)
                    .join(EventActor, col(EventActor.actor_id) == col(Entry.id))
                    .where(EventActor.event_id == entry.id)
                )
            ),
            "citations": _citations(session, entry.id),
        }
    elif entry.kind == EntryKind.ACTOR:
        actor = session.get_one(Actor, entry.id)
        record |= {
            "kind": actor.kind,
            "name": actor.name,
            "role": actor.role,
            "description": actor.description,
            # The name itself is stored as an alias row too (for matching); it is not listed.
            "aliases": [
                alias
                for alias in session.exec(
                    select(Alias.alias).where(Alias.actor_id == entry.id).order_by(col(Alias.id))
                )
                if alias != actor.name
            ],
            "sources": [c["source"] for c in _citations(session, entry.id)],
        }
    else:
        source = session.get_one(Source, entry.id)
        record |= {
            "name": source.name,
            "kind": source.kind,
            "url": source.url,
            "reliability": source.reliability,
        }
    record |= translations_of(session, entry.id, entry.kind)
    if entry.state == EntryState.RETRACTED:
        record["retracted"] = entry.retracted_reason or ""
    return record


def translations_of(session: Session, entry_id: int, kind: str) -> dict[str, dict[str, str]]:
    """An entry's translated fields as record blocks: {"uk": {"title": …, "summary": …}}, in
    the order of TRANSLATABLE_FIELDS; languages without any are left out."""
    rows = session.exec(
        select(Translation.language, Translation.field, Translation.text).where(
            Translation.entry_id == entry_id
        )
    ).all()
    found: dict[str, dict[str, str]] = {}
    for language, field, text in rows:
        found.setdefault(language, {})[field] = text
    fields = TRANSLATABLE_FIELDS[kind]
    return {
        language: {f: found[language][f] for f in fields if f in found[language]}
        for language in TRANSLATION_LANGUAGES
        if language in found
    }


def _citations(session: Session, entry_id: int) -> list[dict[str, str]]:
    rows = session.exec(
        select(Entry.slug, Citation.note)
        .join(Citation, col(Citation.source_id) == col(Entry.id))
        .where(Citation.entry_id == entry_id)
        .order_by(col(Citation.id))
    ).all()
    return [{"source": slug, "note": note} for slug, note in rows]


@dataclass(frozen=True)
class FieldChange:
    """One field two snapshots disagree on: its value before and after."""

    field: str
    old: Any
    new: Any


def changed_fields(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[FieldChange]:
    """Every field two snapshots disagree on, in the record's order (fields only the old
    snapshot had come last). History and digests both read changes so."""
    before, after = _flat(before or {}), _flat(after or {})
    keys = [*after, *(key for key in before if key not in after)]
    return [FieldChange(key, before.get(key), after.get(key)) for key in keys
            if before.get(key) != after.get(key)]  # fmt: skip


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """A record with its translation blocks spelt out as fields: {"uk": {"title": …}} becomes
    {"title.uk": …}, as /edit names them and as history and digests show a change."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if key in TRANSLATION_LANGUAGES and isinstance(value, dict):
            flat |= {f"{field}.{key}": text for field, text in value.items()}
        else:
            flat[key] = value
    return flat


_NO_TRANSLATED = {
    EntryKind.EVENT: N_("events have no translated “{field}”; translated: {choices}"),
    EntryKind.ACTOR: N_("actors have no translated “{field}”; translated: {choices}"),
    EntryKind.SOURCE: N_("sources have no translated “{field}”; translated: {choices}"),
}


def translated_field(kind: str, name: str) -> tuple[str, str] | None:
    """`title.uk` as ("title", "uk"); None for a name without a language, and `title.en`
    (the original's own language) as ("title", "en"). An unknown language, or a field of this
    kind that is not translated, is refused with the choices."""
    field, dot, language = name.partition(".")
    if not dot:
        return None
    if language == ORIGINAL_LANGUAGE:
        return field, language
    fields = TRANSLATABLE_FIELDS[kind]
    if language not in TRANSLATION_LANGUAGES:
        known = ", ".join(TRANSLATION_LANGUAGES)
        raise CurationError(
            N_(
                "“{language}” is not a language entries are translated into "
                "(the original is {original}; translations: {known})"
            ),
            language=language[:12],
            original=ORIGINAL_LANGUAGE,
            known=known,
        )
    if field not in fields:
        choices = ", ".join(f"{f}.{language}" for f in fields)
        raise CurationError(_NO_TRANSLATED[EntryKind(kind)], field=field[:40], choices=choices)
    return field, language


def _translations(kind: str, record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The record's translation blocks, validated: a block per language ({"title": …}), with
    `title.uk`-style keys (from /edit) applied over it; an empty text removes a field."""
    fields = TRANSLATABLE_FIELDS[kind]
    out: dict[str, dict[str, str]] = {}
    for language in TRANSLATION_LANGUAGES:
        block = record.get(language)
        if block is None:
            block = {}
        if not isinstance(block, dict):
            raise CurationError(
                f"{language} must be a mapping of translated fields ({', '.join(fields)})"
            )
        block = dict(block)
        for field in fields:
            if f"{field}.{language}" in record:
                block[field] = record[f"{field}.{language}"]
        unknown = [str(key) for key in block if key not in fields]
        if unknown:
            raise CurationError(
                f"{language}: {kind}s have no translated “{unknown[0][:40]}”; "
                f"translated: {', '.join(fields)}"
            )
        texts = {}
        for field in fields:
            label = f"{field}.{language}"
            value = _text({label: block.get(field)}, label, required=False, limit_key=field)
            if value:
                texts[field] = value
        if texts:
            out[language] = texts
    return out


def _text(
    record: dict[str, Any], key: str, *, required: bool, limit_key: str | None = None
) -> str:
    value = record.get(key)
    if value is None:
        value = ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CurationError(
            N_("{field} must be text"), field=key
        )  # before any str(): a list may be huge
    value = strip_controls(str(value)).strip()
    if required and not value:
        raise CurationError(N_("{field} must not be empty"), field=key)
    limit = LIMITS[limit_key or key]
    if len(value) > limit:
        raise CurationError(
            N_("{field} is {length} characters; the limit is {limit}"),
            field=key,
            length=len(value),
            limit=limit,
        )
    return value


# What people type for a kind, beyond its own name in any case, with spaces or hyphens.
KIND_SYNONYMS = {
    "news": "news_outlet", "news_agency": "news_outlet", "agency": "news_outlet",
    "outlet": "news_outlet", "newspaper": "news_outlet", "tg": "telegram_channel",
    "tg_channel": "telegram_channel", "telegram": "telegram_channel",
    "channel": "telegram_channel", "government": "official", "official_source": "official",
    "analyst": "analysis", "analysts": "analysis", "think_tank": "analysis",
    "public": "public_record", "record": "public_record", "organization": "organisation",
    "org": "organisation", "country": "state", "government_of": "state",
    "group_of_states": "group", "coalition": "group",
    "individual": "person", "people": "person", "city": "place", "location": "place",
}  # fmt: skip


def as_choice(value: str, values: Iterable[str]) -> str | None:
    """What a person typed as one of `values` ("News outlet", "tg channel"), or None."""
    typed = "_".join(value.strip().lower().replace("-", " ").split())
    typed = typed if typed in values else KIND_SYNONYMS.get(typed, typed)
    return typed if typed in values else None


def _choice(record: dict[str, Any], key: str, allowed: type[Any], default: str | None) -> str:
    value = record.get(key, default)
    values = [m.value for m in allowed]
    if isinstance(value, str):
        value = as_choice(value, values) or value
    if value not in values:
        words = ", ".join(v.replace("_", " ") for v in values)
        raise CurationError(
            N_("{field} “{value}” is not one of: {words}"),
            field=key,
            value=str(value)[:40],
            words=words,
        )
    return str(value)


def _list(record: dict[str, Any], key: str, limit: int) -> list[Any]:
    value = record.get(key) or []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise CurationError(N_("{field} must be a list"), field=key)
    if len(value) > limit:
        raise CurationError(
            N_("{field} has {count} items; the limit is {limit}"),
            field=key,
            count=len(value),
            limit=limit,
        )
    return value


def _slug_of(session: Session, entry_id: int) -> str:
    return session.get_one(Entry, entry_id).slug


def resolve_record_refs(session: Session, kind: str, slug: str, what: str) -> int:
    entry_id = session.exec(
        select(Entry.id).where(Entry.kind == kind, Entry.slug == str(slug))
    ).first()
    if entry_id is None:
        raise CurationError(f"unknown {what} “{str(slug)[:60]}”")
    return entry_id


def normalise_record(session: Session, kind: str, record: dict[str, Any]) -> dict[str, Any]:
    """Validate a record and return it in canonical form; raise CurationError on any problem."""
    slug = _text(record, "slug", required=True)
    if not _SLUG_RE.match(slug):
        raise CurationError(N_("slug “{slug}” may use only a-z, 0-9 and hyphens"), slug=slug)
    out: dict[str, Any] = {"slug": slug}
    if kind == EntryKind.EVENT:
        raw_date = record.get("date")
        try:
            fuzzy = parse_date(str(raw_date if raw_date is not None else ""))
        except DateError as exc:
            raise CurationError(N_("date: {problem}"), problem=exc) from None
        precision = record.get("precision") or fuzzy.precision.value
        precision = _choice({"precision": precision}, "precision", DatePrecision, None)
        if precision != DatePrecision.APPROXIMATE and precision != fuzzy.precision:
            raise CurationError(
                f"precision {precision} does not match the date {fuzzy.iso()} "
                f"(a {fuzzy.precision.value})"
            )
        topics = [str(t).strip().lower() for t in _list(record, "topics", MAX_TOPICS)]
        for topic in topics:
            if not _TOPIC_RE.match(topic) or len(topic) > LIMITS["topic"]:
                raise CurationError(
                    f"topic “{topic[:40]}” must be up to {LIMITS['topic']} of a-z, 0-9, hyphens"
                )
        actors = [str(a) for a in _list(record, "actors", MAX_LINKS)]
        for actor in actors:
            resolve_record_refs(session, EntryKind.ACTOR, actor, "actor")
        citations = []
        for item in _list(record, "citations", MAX_LINKS):
            if isinstance(item, str):
                item = {"source": item}
            if not isinstance(item, dict):
                raise CurationError(N_("each citation needs a source"))
            resolve_record_refs(session, EntryKind.SOURCE, item.get("source", ""), "source")
            citations.append(
                {"source": str(item["source"]), "note": _text(item, "note", required=False)}
            )
        if not citations:
            raise CurationError(N_("an event needs at least one source"))
        label = _text(record, "date_label", required=False) or None
        after = record.get("after")
        if after not in (None, "", "-"):
            after = str(after)
            if after == out.get("slug"):
                raise CurationError(N_("an event can't follow itself"))
            followed = resolve_record_refs(session, EntryKind.EVENT, after, "event")
            for _ in range(100):  # "after"s must not loop back to this event
                previous = session.get(Event, followed)
                if previous is None or previous.after_id is None:
                    break
                if _slug_of(session, previous.after_id) == out.get("slug"):
                    raise CurationError(
                        N_("“{after}” already comes after this event"), after=after[:60]
                    )
                followed = previous.after_id
            out["after"] = after
        out |= {
            "date": fuzzy.iso(),
            "precision": precision,
            "date_label": label,
            "title": _text(record, "title", required=True),
            "summary": _text(record, "summary", required=False),
            "status": _choice(record, "status", EventStatus, EventStatus.REPORTED),
            "topics": sorted(set(topics)),
            "actors": sorted(set(actors)),
            "citations": _dedupe_citations(citations),
        }
    elif kind == EntryKind.ACTOR:
        name = _text(record, "name", required=True)
        aliases: list[str] = []
        for alias in _list(record, "aliases", MAX_ALIASES):
            alias = _text({"alias": alias}, "alias", required=True)
            if alias not in aliases and alias != name:
                aliases.append(alias)
        sources = [str(s) for s in _list(record, "sources", MAX_LINKS)]
        for source in sources:
            resolve_record_refs(session, EntryKind.SOURCE, source, "source")
        out |= {
            "kind": _choice(record, "kind", ActorKind, None),
            "name": name,
            "role": _text(record, "role", required=False),
            "description": _text(record, "description", required=False),
            "aliases": aliases,
            "sources": list(dict.fromkeys(sources)),
        }
    elif kind == EntryKind.SOURCE:
        url = record.get("url")
        url = None if url in (None, "", "-") else _text(record, "url", required=False)
        if url is not None and not _URL_RE.match(url):
            raise CurationError(N_("url must start with http:// or https://"))
        out |= {
            "name": _text(record, "name", required=True),
            "kind": _choice(record, "kind", SourceKind, None),
            "url": url,
            "reliability": _text(record, "reliability", required=False),
        }
    else:
        raise CurationError(f"unknown kind {kind}")
    out |= _translations(kind, record)
    if record.get("retracted") is not None:
        out["retracted"] = _text({"reason": record["retracted"]}, "reason", required=False)
    return out


def _dedupe_citations(citations: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for citation in citations:
        seen.setdefault(citation["source"], citation)
    return list(seen.values())
