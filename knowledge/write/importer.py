"""Curated YAML -> database: validated as a whole, applied through curation, idempotent.

Errors name the file and line (`briefing.yaml:42: events[3]: unknown source “x”`), and a file
with any error changes nothing.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from knowledge.language.names import strip_controls
from knowledge.models import TRANSLATION_LANGUAGES, Briefing, Entry, EntryKind, utcnow
from knowledge.storage.database import is_postgres, session_scope
from knowledge.storage.migrations import MIGRATION_LOCK, migrate
from knowledge.write.curation import IMPORTER, Author, create_entry, update_entry
from knowledge.write.records import CurationError, normalise_record, snapshot

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
BUNDLED_BRIEFING = DATA_DIR / "ukraine-nato-security-dynamic.yaml"
_SECTIONS = (
    ("sources", EntryKind.SOURCE),
    ("actors", EntryKind.ACTOR),
    ("events", EntryKind.EVENT),
)
_LINE = "__line__"
MAX_IMPORT_BYTES = 5_000_000


class BriefingError(ValueError):
    """A briefing file that cannot be imported; `errors` holds every problem, with lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors[0] if len(errors) == 1 else f"{len(errors)} errors: {errors[0]}")
        self.errors = errors


@dataclass
class ImportSummary:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line each mapping starts on, and refuses aliases.

    A curated briefing never needs `*alias`, and aliases are how a small file expands into an
    enormous tree (a "billion laughs"): refusing them bounds what a file can become by its size.
    """

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a briefing", event.start_mark
            )
        return super().compose_node(parent, index)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[_LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Dates stay strings ("2023-07" and "2023-07-11" alike); the curation layer parses them.
_LineLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load(text: str, name: str) -> Any:
    """The file's YAML, or a BriefingError naming the line that isn't valid."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise BriefingError([f"{name}:{line}: {problem}"]) from None


def _sections(data: Any, name: str) -> dict[str, list[dict[str, Any]]]:
    """The sections of records, each carrying its line number."""
    if not isinstance(data, dict):
        raise BriefingError([f"{name}:1: expected a mapping with sources, actors and events"])
    sections: dict[str, list[dict[str, Any]]] = {}
    errors = []
    for key, _kind in _SECTIONS:
        records = data.get(key) or []
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            errors.append(f"{name}:{data.get(_LINE, 1)}: “{key}” must be a list of mappings")
            continue
        sections[key] = records
    unknown = set(data) - {k for k, _ in _SECTIONS} - {"briefing", _LINE}
    if unknown:
        errors.append(f"{name}:1: unknown top-level keys: {', '.join(sorted(unknown))}")
    if errors:
        raise BriefingError(errors)
    return sections


def import_briefing(
    session: Session, text: str, *, name: str = "briefing.yaml", author: Author = IMPORTER
) -> ImportSummary:
    """Validate the whole file, then apply it through curation. Raises BriefingError on any
    problem; the caller's transaction should then be rolled back (a savepoint is used here)."""
    if len(text.encode("utf-8", "replace")) > MAX_IMPORT_BYTES:
        raise BriefingError(
            [f"{name}: the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB"]
        )
    data = _load(text, name)
    sections = _sections(data, name)
    header = data.get("briefing") if isinstance(data.get("briefing"), dict) else None
    errors: list[str] = []
    seen: set[tuple[str, str]] = set()
    for key, kind in _SECTIONS:
        for index, record in enumerate(sections.get(key, [])):
            where = f"{name}:{record.get(_LINE, '?')}: {key}[{index}]"
            slug = record.get("slug", "")
            if not isinstance(slug, str):
                errors.append(f"{where}: slug must be text")
                continue
            if (kind, slug) in seen:
                errors.append(f"{where}: duplicate slug “{slug}”")
            seen.add((kind, slug))
    if errors:
        raise BriefingError(errors)

    summary = ImportSummary()
    savepoint = session.begin_nested()
    try:
        for key, kind in _SECTIONS:
            for index, raw in enumerate(sections.get(key, [])):
                record = {k: _without_line(v) for k, v in raw.items() if k != _LINE}
                where = f"{name}:{raw.get(_LINE, '?')}: {key}[{index}]"
                try:
                    _import_record(session, kind, record, author, summary)
                except CurationError as exc:
                    errors.append(f"{where}: {exc}")
        if errors:
            raise BriefingError(errors)
        if header is not None:
            _keep_header(session, header, name)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return summary


def _keep_header(session: Session, header: dict[str, Any], name: str) -> None:
    """The file's `briefing:` block (slug, title, summary, origin, url), kept for /about."""

    def text(key: str, limit: int) -> str:
        value = header.get(key)
        if value is not None and not isinstance(value, str):
            raise BriefingError([f"{name}: briefing.{key} must be text"])
        return strip_controls(value or "").strip()[:limit]

    slug = text("slug", 80) or "briefing"
    title = text("title", 200)
    if not title:
        raise BriefingError([f"{name}: the briefing block needs a title"])
    row = session.exec(select(Briefing).where(Briefing.slug == slug)).first() or Briefing(
        slug=slug, title=title
    )
    row.title, row.summary = title, text("summary", 2000)
    row.origin, row.url = text("origin", 300), text("url", 500) or None
    row.loaded_at = utcnow()
    session.add(row)


def _without_line(value: Any) -> Any:
    """A translation block (`uk: {title: …}`) without the line number the loader gave it."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != _LINE}
    return value


def _import_record(
    session: Session, kind: str, record: dict[str, Any], author: Author, summary: ImportSummary
) -> None:
    label = f"{kind}:{record.get('slug')}"
    existing = session.exec(
        select(Entry).where(Entry.kind == kind, col(Entry.slug) == str(record.get("slug")))
    ).first()
    if existing is None:
        create_entry(session, kind, record, author=author, action="import")
        summary.added.append(label)
        return
    clean = normalise_record(session, kind, record)
    current = snapshot(session, existing)
    for language in TRANSLATION_LANGUAGES:
        # A file without a language's block (one written before translations, or a proposal)
        # leaves the entry's translations as they are; an empty block (`uk: {}`) removes them.
        if language not in record and language in current:
            clean[language] = current[language]
    if clean == current:
        summary.unchanged.append(label)
        return
    assert existing.id is not None
    changes = dict(clean)
    if "retracted" not in clean:
        changes["retracted"] = None
    for language in TRANSLATION_LANGUAGES:
        changes.setdefault(language, {})
    update_entry(session, existing.id, changes, author=author, action="import")
    summary.updated.append(label)


def import_file(session: Session, path: Path, *, author: Author = IMPORTER) -> ImportSummary:
    return import_briefing(
        session, path.read_text(encoding="utf-8"), name=path.name, author=author
    )


def export_briefing(session: Session) -> str:
    """Every entry (retracted ones marked) as YAML in the importer's format."""
    sections: dict[str, list[dict[str, Any]]] = {}
    for key, kind in _SECTIONS:
        entries = session.exec(select(Entry).where(Entry.kind == kind).order_by(col(Entry.id)))
        sections[key] = [snapshot(session, entry) for entry in entries]
    header = "# Briefing Bot export: curated entries in the knowledge/data format.\n"
    return header + yaml.safe_dump(sections, allow_unicode=True, sort_keys=False, width=99)


def has_entries(session: Session) -> bool:
    return session.exec(select(Entry.id).limit(1)).first() is not None


def prepare_database(engine: Engine, *, bundled: Path | None = BUNDLED_BRIEFING) -> bool:
    """Migrate the schema; on an empty knowledge base load the bundled briefing.

    Returns True when the briefing was loaded. Safe to run on every start.
    """
    migrate(engine)
    if bundled is None:
        return False
    with session_scope(engine) as session:
        if is_postgres(session):
            # Replicas starting together on an empty database: one loads, the rest then see
            # entries. The lock is released when this transaction ends.
            session.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        if has_entries(session):
            return False
        import_file(session, bundled)
    return True
