"""Moderators' command syntax (/add_event DATE | TITLE | ..., /edit, /retract, /undo, /audit)."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session

from knowledge.language.dates import DateError, parse_date
from knowledge.language.wording import N_
from knowledge.models import (
    ORIGINAL_LANGUAGE,
    TRANSLATABLE_FIELDS,
    TRANSLATION_LANGUAGES,
    DatePrecision,
    EntryKind,
    EntryState,
)
from knowledge.write.audit import AUDIT_DEFAULT, AUDIT_MAX
from knowledge.write.records import (
    EDITABLE_FIELDS,
    CurationError,
    snapshot,
    translated_field,
)
from knowledge.write.requests import ChangeRequest, last_revision_id
from knowledge.write.resolve import (
    entry_of_kind,
    refuse_taken_source_name,
    resolve_actors,
    resolve_sources,
    split_names,
)

MAX_CHAT_IMPORT_BYTES = 2_000_000  # a file sent in chat; the CLI importer allows more


USAGE = {
    "add_event": "/add_event DATE | TITLE | SUMMARY | SOURCE[; SOURCE…]",
    "add_actor": "/add_actor NAME | KIND | ROLE | ALIAS[, ALIAS…]",
    "add_source": "/add_source NAME | KIND | URL",
    "edit": "/edit ID | FIELD | VALUE (a translation: /edit ID | title.uk | TEXT)",
    "retract": "/retract ID | REASON",
    "history": "/history ID",
    "undo": "/undo ID",
    "approve": "/approve DRAFT",
    "reject": "/reject DRAFT | REASON",
    "mod": "/mod add USER_ID · /mod remove USER_ID (or in reply to their message)",
    "audit": "/audit [N]",
}


_ID_RE = re.compile(r"^#?(\d{1,9})$")


class UsageError(CurationError):
    """The command's shape is wrong; the reply shows its usage line."""

    def __init__(self, message: str, command: str, **values: object) -> None:
        super().__init__(message, **values)
        self.command = command


def parse_audit_count(text: str) -> int:
    text = text.strip()
    if not text:
        return AUDIT_DEFAULT
    if not text.isdigit() or int(text) < 1:
        raise UsageError(N_("N must be a whole number"), "audit")
    return min(int(text), AUDIT_MAX)


def split_args(text: str, command: str, *, minimum: int, maximum: int) -> list[str]:
    """`A | B | C` -> ["A", "B", "C"]; the last part keeps any further `|`."""
    parts = [p.strip() for p in text.split("|", maximum - 1)] if text.strip() else []
    if not minimum <= len(parts) <= maximum:
        if minimum == maximum:
            raise UsageError(
                N_("expected {wanted} parts separated by |, got {got}"),
                command,
                wanted=minimum,
                got=len(parts),
            )
        raise UsageError(
            N_("expected {least} to {most} parts separated by |, got {got}"),
            command,
            least=minimum,
            most=maximum,
            got=len(parts),
        )
    return parts


def parse_entry_id(text: str, command: str) -> int:
    match = _ID_RE.match(text.strip())
    if not match:
        raise UsageError(N_("“{text}” is not an entry number"), command, text=text.strip()[:40])
    return int(match.group(1))


def parse_draft_id(text: str, command: str) -> int:
    match = _ID_RE.match(text.strip())
    if not match:
        raise UsageError(
            N_("“{text}” is not a draft number (see /pending)"), command, text=text.strip()[:40]
        )
    return int(match.group(1))


def parse_date_argument(text: str) -> str:
    try:
        return parse_date(text).iso()
    except DateError as exc:
        raise CurationError(N_("date: {problem}"), problem=exc) from None


def parse_add_event(session: Session, text: str) -> ChangeRequest:
    """`DATE | TITLE | SUMMARY | SOURCE[; SOURCE…]`."""
    date_text, title, summary, sources = split_args(text, "add_event", minimum=4, maximum=4)
    record = {
        "date": parse_date_argument(date_text),
        "title": title,
        "summary": "" if summary == "-" else summary,
        "citations": [{"source": s, "note": ""} for s in resolve_sources(session, sources)],
    }
    if not record["citations"]:
        raise CurationError(N_("an event needs at least one source"))
    return ChangeRequest("create", {"record": record}, EntryKind.EVENT)


def parse_add_actor(session: Session, text: str) -> ChangeRequest:
    """`NAME | KIND | ROLE | ALIAS[, ALIAS…]` (role and aliases may be left out or `-`)."""
    parts = [*split_args(text, "add_actor", minimum=2, maximum=4), "", ""]
    name, kind, role, aliases = parts[:4]
    record = {
        "name": name,
        "kind": kind.strip().lower(),
        "role": "" if role == "-" else role,
        "aliases": split_names(aliases, ","),
    }
    return ChangeRequest("create", {"record": record}, EntryKind.ACTOR)


def parse_add_source(session: Session, text: str) -> ChangeRequest:
    """`NAME | KIND | URL` (`-` for no URL)."""
    parts = [*split_args(text, "add_source", minimum=2, maximum=3), ""]
    name, kind, url = parts[:3]
    refuse_taken_source_name(session, name)
    record = {"name": name, "kind": kind.strip().lower(), "url": url.strip() or None}
    return ChangeRequest("create", {"record": record}, EntryKind.SOURCE)


_FIELD_ALIASES = {"citations": "sources", "alias": "aliases", "topic": "topics"}


# Keyed by plain strings: the precision it is looked up with is what the moderator typed.
_COARSER: dict[str, int] = {DatePrecision.YEAR: 4, DatePrecision.MONTH: 7}


def parse_edit(session: Session, text: str) -> ChangeRequest:
    """`ID | FIELD | VALUE`: any editable field, names resolved like the add commands."""
    raw_id, raw_field, value = split_args(text, "edit", minimum=3, maximum=3)
    entry_id = parse_entry_id(raw_id, "edit")
    entry = entry_of_kind(session, entry_id)
    field_name = raw_field.strip().lower().replace(" ", "_")
    try:
        translated = translated_field(entry.kind, field_name)
    except CurationError as exc:
        raise _of_kind(entry_id, entry.kind, exc) from None
    if translated is not None and translated[1] != ORIGINAL_LANGUAGE:
        # `title.uk | text` sets the translation; `-` (or nothing) removes it.
        text = value.strip()
        translation = {field_name: None if text in ("", "-") else text}
        return ChangeRequest(
            "edit", {"changes": translation, "fields": [field_name]}, entry.kind, entry_id
        )
    if translated is not None:  # `title.en` is the original itself
        field_name = translated[0]
    field_name = _FIELD_ALIASES.get(field_name, field_name)
    try:
        parsed = parse_field_value(entry.kind, field_name, value)
    except CurationError as exc:
        raise _of_kind(entry_id, entry.kind, exc) from None
    current = snapshot(session, entry)
    changes: dict[str, Any]
    if entry.kind == EntryKind.EVENT and field_name == "date":
        fuzzy_iso = parse_date_argument(value)
        changes = {"date": fuzzy_iso}
        # A new date brings its own precision; an approximate date stays approximate.
        if current["precision"] != DatePrecision.APPROXIMATE:
            changes["precision"] = parse_date(fuzzy_iso).precision.value
    elif entry.kind == EntryKind.EVENT and field_name == "precision":
        precision = str(parsed).lower()
        changes = {"precision": precision}
        if precision in _COARSER and len(current["date"]) > _COARSER[precision]:
            changes["date"] = current["date"][: _COARSER[precision]]  # 2023-07-11 -> 2023-07
    elif entry.kind == EntryKind.EVENT and field_name == "sources":
        notes = {c["source"]: c["note"] for c in current["citations"]}
        slugs = resolve_sources(session, value)
        changes = {"citations": [{"source": s, "note": notes.get(s, "")} for s in slugs]}
    elif entry.kind == EntryKind.ACTOR and field_name == "sources":
        changes = {"sources": resolve_sources(session, value)}
    elif field_name == "actors":
        changes = {"actors": resolve_actors(session, value)}
    elif field_name in ("kind", "status"):
        changes = {field_name: str(parsed).lower()}
    else:
        changes = {field_name: parsed}
    return ChangeRequest(
        "edit", {"changes": changes, "fields": [field_name]}, entry.kind, entry_id
    )


_NO_FIELD = {
    EntryKind.EVENT: N_("events have no field “{field}”; editable: {editable}; translations: "
                        "{translated}"),
    EntryKind.ACTOR: N_("actors have no field “{field}”; editable: {editable}; translations: "
                        "{translated}"),
    EntryKind.SOURCE: N_("sources have no field “{field}”; editable: {editable}; translations: "
                         "{translated}"),
}  # fmt: skip


def parse_field_value(kind: str, field: str, value: str) -> Any:
    """Turn `/edit` text into a record value for `field`; lists are comma-separated."""
    if field not in EDITABLE_FIELDS[kind]:
        translated = ", ".join(f"{f}.{lang}" for lang in TRANSLATION_LANGUAGES
                               for f in TRANSLATABLE_FIELDS[kind])  # fmt: skip
        raise CurationError(
            _NO_FIELD[EntryKind(kind)],
            field=field[:40],
            editable=", ".join(EDITABLE_FIELDS[kind]),
            translated=translated,
        )
    value = value.strip()
    if field in ("topics", "aliases", "actors", "sources"):
        return [v.strip() for v in value.split(",") if v.strip()]
    if field in ("url", "date_label", "after") and value in ("-", ""):
        return None
    return value


_OF_KIND = {
    EntryKind.EVENT: N_("#{id} is an event: {problem}"),
    EntryKind.ACTOR: N_("#{id} is an actor: {problem}"),
    EntryKind.SOURCE: N_("#{id} is a source: {problem}"),
}


def _of_kind(entry_id: int, kind: str, problem: CurationError) -> CurationError:
    """A field's problem, said with the kind of entry it is a field of."""
    return CurationError(_OF_KIND[EntryKind(kind)], id=entry_id, problem=problem)


def parse_retract(session: Session, text: str) -> ChangeRequest:
    raw_id, reason = split_args(text, "retract", minimum=2, maximum=2)
    entry = entry_of_kind(session, parse_entry_id(raw_id, "retract"))
    if not reason.strip():
        raise UsageError(N_("say why the entry is retracted"), "retract")
    if entry.state == EntryState.RETRACTED:
        raise CurationError(N_("#{id} is already retracted"), id=entry.id)
    return ChangeRequest("retract", {"reason": reason}, entry.kind, entry.id)


def parse_undo(session: Session, text: str) -> ChangeRequest:
    entry = entry_of_kind(session, parse_entry_id(text, "undo"))
    assert entry.id is not None
    last = last_revision_id(session, entry.id)
    if last is None:
        raise CurationError(N_("#{id} has no history to undo"), id=entry.id)
    return ChangeRequest("undo", {"revision": last}, entry.kind, entry.id)


def import_change(name: str, data: bytes) -> ChangeRequest:
    """A YAML file sent in chat, checked for size and encoding before anything else."""
    if len(data) > MAX_CHAT_IMPORT_BYTES:
        raise too_big(name, len(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CurationError(
            N_("{name} is not UTF-8 text (byte {byte})"), name=name, byte=exc.start
        ) from None
    return ChangeRequest("import", {"name": name[:120], "text": text})


def too_big(name: str, size: int) -> CurationError:
    """A file sent in chat over MAX_CHAT_IMPORT_BYTES."""
    return CurationError(
        N_("{name} is {size} bytes; files sent in chat may be up to {limit} MB"),
        name=name,
        size=f"{size:,}",
        limit=MAX_CHAT_IMPORT_BYTES // 1_000_000,
    )


def parse_reject(text: str) -> tuple[int, str]:
    """`/reject DRAFT_ID REASON`: the draft and the reason its author will be told."""
    raw_id, reason = split_args(text, "reject", minimum=2, maximum=2)
    draft_id = parse_draft_id(raw_id, "reject")
    reason = " ".join(reason.split())
    if not reason:
        raise UsageError(N_("say why the draft is rejected"), "reject")
    return draft_id, reason
