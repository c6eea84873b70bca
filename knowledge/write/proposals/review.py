"""Proposals kept as review drafts (state `proposed`), and what a moderator does with them:
approve (through the normal write path, or on to a second moderator under review), edit a
field, reject, or approve a whole batch.

A proposal is a `Draft` whose payload also holds where it came from (`payload["proposal"]`:
the sentence, the batch it belongs to). Events may name actors or a source proposed in the
same batch; approving the event approves those first, and an actor rejected meanwhile is
left out of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from knowledge.language.dates import DateError, parse_date
from knowledge.language.wording import N_
from knowledge.models import (
    ActorKind,
    DatePrecision,
    Draft,
    EntryKind,
    EventStatus,
    SourceKind,
    utcnow,
)
from knowledge.write.curation import Author, get_entry
from knowledge.write.drafts import (
    DRAFT_APPLIED,
    DRAFT_PENDING,
    DRAFT_REJECTED,
    Submission,
    submit,
)
from knowledge.write.proposals.model import Batch
from knowledge.write.records import LIMITS, CurationError, as_choice, snapshot
from knowledge.write.requests import ChangeRequest, apply_change
from knowledge.write.resolve import resolve_actor_slug, resolve_source

PROPOSED = "proposed"

# The fields a moderator may change on a proposal before approving it, per kind.
PROPOSAL_FIELDS: dict[str, tuple[str, ...]] = {
    EntryKind.EVENT: ("date", "title", "status", "source", "actors"),
    EntryKind.ACTOR: ("name", "kind"),
    EntryKind.SOURCE: ("name", "kind"),
}


def save_batch(session: Session, batch: Batch, *, author: Author) -> list[Draft]:
    """Keep every proposal of a batch as a draft, in the order they are best approved:
    the new source, new actors, then events. The batch is known by its first draft's id."""
    items: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    if batch.new_source is not None:
        items.append((EntryKind.SOURCE, batch.new_source.record(), {}))
    for actor in batch.actors:
        items.append((EntryKind.ACTOR, actor.record(), {"sentence": actor.sentence}))
    for event in batch.events:
        about = {
            "sentence": event.sentence,
            "date_text": event.date_text,
            "attributed_to": event.attributed_to,
            "update_of": event.update_of,
            "update_title": event.update_title,
        }
        items.append((EntryKind.EVENT, event.record(), about))
    drafts: list[Draft] = []
    for kind, record, about in items:
        draft = Draft(
            entry_id=None,
            action="create",
            payload={"kind": kind, "data": {"record": record}, "proposal": about},
            author_id=author.id or 0,
            author_name=author.name[:200],
            state=PROPOSED,
        )
        session.add(draft)
        drafts.append(draft)
    session.flush()
    if drafts:
        batch_id = drafts[0].id
        for draft in drafts:
            draft.payload = {**draft.payload, "proposal": {**draft.payload["proposal"],
                                                            "batch": batch_id}}  # fmt: skip
            session.add(draft)
        session.flush()
    return drafts


def proposal(session: Session, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None or "proposal" not in (draft.payload or {}):
        raise CurationError(N_("there is no proposal {id}"), id=draft_id)
    return draft


def _open(session: Session, draft_id: int) -> Draft:
    draft = proposal(session, draft_id)
    if draft.state != PROPOSED:
        decided = _DECIDED.get(draft.state)
        if decided is None:
            raise CurationError(f"proposal {draft_id} is already {draft.state}")
        raise CurationError(decided, id=draft_id)
    return draft


# A field a proposal of this kind does not have.
_NO_PROPOSED_FIELD = {
    "event": N_("a proposed event has no field “{field}”; it has {fields}"),
    "actor": N_("a proposed actor has no field “{field}”; it has {fields}"),
    "source": N_("a proposed source has no field “{field}”; it has {fields}"),
}

# A decided proposal's state, as the moderator who finds it decided reads it.
_DECIDED = {
    DRAFT_APPLIED: N_("proposal {id} is already approved"),
    DRAFT_PENDING: N_("proposal {id} is already waiting for a second moderator"),
    DRAFT_REJECTED: N_("proposal {id} is already rejected"),
}


def batch_of(draft: Draft) -> int:
    return int(draft.payload["proposal"].get("batch") or draft.id or 0)


def batch_drafts(session: Session, batch_id: int) -> list[Draft]:
    """The drafts of a batch, in id order (ids of one batch are consecutive from its first)."""
    drafts = session.exec(
        select(Draft).where(col(Draft.id) >= batch_id).order_by(col(Draft.id)).limit(2000)
    ).all()
    return [d for d in drafts if "proposal" in (d.payload or {}) and batch_of(d) == batch_id]


def record_of(draft: Draft) -> dict[str, Any]:
    return dict(draft.payload["data"]["record"])


def kind_of(draft: Draft) -> str:
    return str(draft.payload["kind"])


@dataclass
class Approval:
    """What approving did: the drafts applied (or sent on for review), the entries made."""

    applied: list[Draft] = field(default_factory=list)
    entry_ids: list[int] = field(default_factory=list)


def approve_proposal(
    session: Session,
    draft_id: int,
    *,
    approver: Author,
    review: bool,
    siblings: list[Draft] | None = None,
) -> Approval:
    """Approve a proposal with whatever it depends on in its batch. Without review the
    entries are written at once (revisions, audit, digests as for any change); with review
    the drafts become `pending`, for another moderator's /approve."""
    draft = _open(session, draft_id)
    siblings = siblings if siblings is not None else batch_drafts(session, batch_of(draft))
    # Under review, what this proposal needs may already wait for the second moderator: the
    # trial applies it too, in the order that moderator will approve it (by id).
    states = (PROPOSED, DRAFT_PENDING) if review else (PROPOSED,)
    needed = _dependencies(draft, siblings, states)
    chain = [d for d in needed if d.state == PROPOSED] + [draft]
    changes = [_change(session, d, siblings) for d in chain]
    outcome = Approval()
    if review:
        savepoint = session.begin_nested()
        try:  # a trial: the whole chain must be valid, in the order it will be approved
            for item in [*needed, draft]:
                change = (
                    changes[chain.index(item)]
                    if item in chain
                    else _change(session, item, siblings)
                )
                apply_change(session, change, author=approver)
        finally:
            savepoint.rollback()
    for item, change in zip(chain, changes, strict=True):
        if review:
            item.state = DRAFT_PENDING
            item.author_id = approver.id or 0
            item.author_name = approver.name[:200]
        else:
            result: Submission[None] = submit(
                session, change, author=approver, review=False, confirmed=True
            )
            if result.entry_id is not None:
                outcome.entry_ids.append(result.entry_id)
            item.state = DRAFT_APPLIED
            item.decided_by = approver.id
            item.decided_at = utcnow()
        item.action = change.action
        item.entry_id = change.entry_id if review else (result.entry_id or change.entry_id)
        item.payload = {**item.payload, "kind": change.kind, "data": change.payload}
        session.add(item)
        outcome.applied.append(item)
    session.flush()
    return outcome


def _dependencies(draft: Draft, siblings: list[Draft], states: tuple[str, ...]) -> list[Draft]:
    """The source and actors of the draft's batch that its record names, in these states."""
    if kind_of(draft) != EntryKind.EVENT:
        return []
    record = record_of(draft)
    wanted = set(record.get("actors") or []) | {c["source"] for c in record["citations"]}
    return [
        d
        for d in siblings
        if d.id != draft.id
        and d.state in states
        and kind_of(d) != EntryKind.EVENT
        and record_of(d).get("slug") in wanted
    ]


def _change(session: Session, draft: Draft, siblings: list[Draft]) -> ChangeRequest:
    record = record_of(draft)
    kind = kind_of(draft)
    if kind != EntryKind.EVENT:
        return ChangeRequest("create", {"record": record}, kind)
    if not record.get("date"):
        raise CurationError(
            N_("proposal {id} has no date: the text gives none. Set one first (✏️ Edit → date)."),
            id=draft.id,
        )
    record["actors"] = [a for a in record.get("actors") or [] if not _rejected(siblings, a)]
    source = record["citations"][0]["source"]
    if _rejected(siblings, source):
        raise CurationError(
            N_("the source of proposal {id} was rejected; choose another (✏️ Edit → source)"),
            id=draft.id,
        )
    update_of = draft.payload["proposal"].get("update_of")
    if update_of is None:
        return ChangeRequest("create", {"record": record}, kind)
    # News about an event we have: add this citation (and a date, if we had none better).
    current = snapshot(session, get_entry(session, int(update_of)))
    changes: dict[str, Any] = {
        "citations": [*current["citations"], *record["citations"]],
        "actors": sorted(set(current["actors"]) | set(record["actors"])),
    }
    if _finer(record, current):
        changes |= {k: record[k] for k in ("date", "precision", "date_label")}
    fields = [f for f in ("citations", "actors", "date") if f in changes]
    return ChangeRequest("edit", {"changes": changes, "fields": fields}, kind, int(update_of))


_RANK = {"day": 0, "month": 1, "year": 2}


def _finer(new: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether the proposal dates the event more precisely than the entry does."""
    return _RANK.get(str(new.get("precision")), 3) < _RANK.get(str(current.get("precision")), 3)


def _rejected(siblings: list[Draft], slug: str) -> bool:
    for other in siblings:
        if kind_of(other) != EntryKind.EVENT and record_of(other).get("slug") == slug:
            return other.state == DRAFT_REJECTED
    return False


def reject_proposal(session: Session, draft_id: int, *, decider: Author) -> Draft:
    draft = _open(session, draft_id)
    draft.state = DRAFT_REJECTED
    draft.decided_by = decider.id
    draft.decided_at = utcnow()
    draft.reason = "rejected at review of the proposals"
    session.add(draft)
    session.flush()
    return draft


@dataclass
class BatchApproval:
    approved: list[int] = field(default_factory=list)  # proposal ids
    skipped: list[tuple[int, CurationError]] = field(default_factory=list)  # (id, why)


def approve_batch(
    session: Session, batch_id: int, *, approver: Author, review: bool
) -> BatchApproval:
    """Approve every proposal of a batch that can be; say why for the rest (no date…)."""
    outcome = BatchApproval()
    siblings = batch_drafts(session, batch_id)
    for draft in siblings:
        assert draft.id is not None
        if draft.state != PROPOSED:
            continue
        savepoint = session.begin_nested()
        try:
            done = approve_proposal(
                session, draft.id, approver=approver, review=review, siblings=siblings
            )
        except CurationError as exc:
            savepoint.rollback()
            outcome.skipped.append((draft.id, exc))
            continue
        savepoint.commit()
        outcome.approved += [d.id for d in done.applied if d.id is not None]
    return outcome


def edit_proposal(session: Session, draft_id: int, name: str, value: str) -> Draft:
    """Change one field of a proposal before it is approved; the value is checked here."""
    draft = _open(session, draft_id)
    kind = kind_of(draft)
    if name not in PROPOSAL_FIELDS[kind]:
        fields = ", ".join(PROPOSAL_FIELDS[kind])
        raise CurationError(_NO_PROPOSED_FIELD[kind], field=name[:30], fields=fields)
    value = " ".join(value.split())
    record = record_of(draft)
    if name == "date":
        record |= _date_value(value)
    elif name == "status":
        status = as_choice(value, [s.value for s in EventStatus])
        if status is None:
            raise CurationError(N_("status is one of: confirmed, reported, claimed"))
        record["status"] = status
    elif name == "source":
        slug = _batch_slug(session, draft, EntryKind.SOURCE, value) or resolve_source(
            session, value
        )
        record["citations"] = [{**record["citations"][0], "source": slug}]
    elif name == "actors":
        names = [n.strip() for n in value.replace(";", ",").split(",") if n.strip()]
        record["actors"] = list(
            dict.fromkeys(
                _batch_slug(session, draft, EntryKind.ACTOR, n) or resolve_actor_slug(session, n)
                for n in names
            )
        )
    elif name == "kind":
        kinds = [k.value for k in (ActorKind if kind == EntryKind.ACTOR else SourceKind)]
        chosen = as_choice(value, kinds)
        if chosen is None:
            words = ", ".join(k.replace("_", " ") for k in kinds)
            raise CurationError(N_("kind is one of: {words}"), words=words)
        record["kind"] = chosen
    else:  # title, name
        if not value:
            raise CurationError(N_("{field} must not be empty"), field=name)
        if len(value) > LIMITS[name]:
            raise CurationError(
                N_("{field} is {length} characters; the limit is {limit}"),
                field=name,
                length=len(value),
                limit=LIMITS[name],
            )
        record[name] = value
    draft.payload = {**draft.payload, "data": {"record": record}}
    session.add(draft)
    session.flush()
    return draft


def _date_value(value: str) -> dict[str, Any]:
    """YYYY, YYYY-MM or YYYY-MM-DD; with "~" or "c." in front, approximate."""
    approximate = value.startswith(("~", "c.", "c "))
    bare = value.lstrip("~").removeprefix("c.").removeprefix("c ").strip()
    try:
        fuzzy = parse_date(bare)
    except DateError as exc:
        raise CurationError(
            N_("date: {problem}; put ~ in front for an approximate one"), problem=exc
        ) from None
    if approximate:
        return {"date": fuzzy.iso(), "precision": DatePrecision.APPROXIMATE.value,
                "date_label": f"c. {fuzzy.iso()}, the moderator's estimate"}  # fmt: skip
    return {"date": fuzzy.iso(), "precision": fuzzy.precision.value, "date_label": None}


def _batch_slug(session: Session, draft: Draft, kind: str, name: str) -> str | None:
    """The slug of an actor or source proposed in the same batch under that name."""
    wanted = name.casefold()
    for other in batch_drafts(session, batch_of(draft)):
        record = record_of(other)
        if (
            kind_of(other) == kind
            and other.state != DRAFT_REJECTED
            and (str(record.get("name", "")).casefold() == wanted or record.get("slug") == wanted)
        ):
            return str(record["slug"])
    return None
