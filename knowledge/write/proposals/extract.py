"""Reading a briefing into proposals: the sentences that report something, with their dates,
actors, source and status. Nothing is written here; `review.py` keeps them as drafts.

Every proposal is traced to its sentence. A date is only what the text states ("11 July
2023"), or a relative phrase ("last week") counted from the text's own date and marked
approximate; a sentence without one stays undated for the moderator to date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from rapidfuzz import fuzz
from sqlmodel import Session, select

from knowledge.language.dates import FuzzyDate
from knowledge.language.lemmas import noun_forms, text_language
from knowledge.language.names import name_key, slugify
from knowledge.language.sentences import (
    Name,
    Sentence,
    attribution,
    capitalised_names,
    capitalised_words,
    split_sentences,
)
from knowledge.language.when import DatePhrase, find_dates, find_relative_dates, month_number
from knowledge.models import (
    ActorKind,
    DatePrecision,
    Entry,
    EntryKind,
    EventStatus,
    SourceKind,
)
from knowledge.read.sources import find_source
from knowledge.write.curation import unique_slug
from knowledge.write.proposals.existing import ExistingEvents
from knowledge.write.proposals.mentions import Known, Mention, NameIndex, load_index, mentions
from knowledge.write.proposals.model import (
    ActorProposal,
    Batch,
    EventProposal,
    Origin,
    SourceProposal,
)
from knowledge.write.records import as_choice

MIN_WORDS = 5  # shorter lines are headings, captions or sign-offs, not reports
TITLE_LENGTH = 140
_ENDS_SENTENCE = re.compile(r"[.!?…:;»”\"')\]]\s*$")


def propose(session: Session, text: str, origin: Origin) -> Batch:
    """The proposals a text supports, against what the knowledge base already has."""
    language = text_language(text[:5000])
    prefer = language if language in ("uk", "ru") else None
    sentences = split_sentences(text, language)
    index = load_index(session)
    batch = Batch(origin=origin, source=_batch_source(session, origin))
    if batch.source == "":
        batch.new_source = SourceProposal(
            unique_slug(session, EntryKind.SOURCE, origin.source),
            origin.source,
            origin.kind,
            origin.url,
        )
        batch.source = batch.new_source.slug
    batch.sentences = len(sentences)
    reader = _Reader(session, index, batch, capitalised_words(sentences), prefer, language)
    for number, sentence in enumerate(sentences):
        if _heading(sentence, sentences, number):
            continue
        reader.read(sentence)
    existing = ExistingEvents(session)
    batch.events = [_with_update(existing, p) for p in reader.events]
    return batch


def _batch_source(session: Session, origin: Origin) -> str:
    """The slug of the source the moderator named, or "" when it is new."""
    wanted = " ".join(origin.source.split())
    found = find_source(session=session, name=wanted)
    if found is not None and name_key(found.name) == name_key(wanted):
        return session.get_one(Entry, found.id).slug
    return ""


def _heading(sentence: Sentence, sentences: list[Sentence], number: int) -> bool:
    """A title or caption line: alone in its paragraph, with no full stop, or very short."""
    words = sentence.text.split()
    if len(words) < MIN_WORDS or sentence.text.rstrip().endswith("?"):
        return True
    if sentence.text.startswith("(") and sentence.text.rstrip("”}\"' ").endswith(")"):
        return True  # an aside such as "(Source attribution: …)"
    alone = all(s.paragraph != sentence.paragraph for i, s in enumerate(sentences) if i != number)
    return alone and not _ENDS_SENTENCE.search(sentence.text) and len(words) < 16


@dataclass
class _Reader:
    """Reads sentences in order; a sentence that only says where the previous one comes
    from ("The assertion came through a report on the channel X") joins it."""

    session: Session
    index: NameIndex
    batch: Batch
    capitalised: frozenset[str]
    prefer: str | None
    language: str

    def __post_init__(self) -> None:
        self.events: list[EventProposal] = []
        self.new_actors: dict[str, ActorProposal] = {}  # by name key
        self.decided: dict[str, str | None] = {}  # name key -> known actor slug, or None
        self.taken = set(  # actor slugs in use, read once rather than once per new name
            self.session.exec(select(Entry.slug).where(Entry.kind == EntryKind.ACTOR))
        )

    def read(self, sentence: Sentence) -> None:
        found = mentions(self.index, sentence.text, self.prefer)
        actors = list(dict.fromkeys(m.known.slug for m in found if m.known.kind == "actor"))
        sources = [m.known for m in found if m.known.kind == "source"]
        new: list[str] = []
        for name in capitalised_names(sentence.text, self.capitalised):
            if _covered(name, found):
                continue
            slug = self._name(name, sentence.text)
            if slug and slug.startswith("+"):
                new.append(slug[1:])
            elif slug and slug not in actors:
                actors.append(slug)
        cue = attribution(sentence.text, self.prefer or "en")
        previous = self.events[-1] if self.events else None
        if (
            previous is not None
            and sources
            and previous.source == self.batch.source
            and set(actors) & set(previous.actors)
        ):
            # This sentence names the source of the previous one: it joins it.
            status = EventStatus.CLAIMED.value if cue and cue.kind == "claim" else previous.status
            self.events[-1] = replace(
                previous,
                sentence=f"{previous.sentence} {sentence.text}",
                source=sources[0].slug,
                status=status,
                attributed_to=sources[0].name,
            )
            return
        published = self.batch.origin.published
        explicit = find_dates(sentence.text, default_year=published.year if published else None)
        dated = explicit[0] if explicit else None
        if not (actors or new or dated or cue):
            return
        if dated is None and published is not None:
            # Relative phrases only where they matter: a kept sentence with no date of its own.
            relative = find_relative_dates(
                sentence.text, reference=published, language=self.language
            )
            dated = relative[0] if relative else None
        source, credited = self._source(sources, cue.before if cue else "")
        when, precision, label = _date_fields(dated, self.batch.origin.published)
        self.events.append(
            EventProposal(
                sentence=sentence.text,
                title=_title(sentence.text),
                date=when,
                precision=precision,
                date_text=dated.text if dated else None,
                date_label=label,
                actors=tuple(actors),
                new_actors=tuple(dict.fromkeys(new)),
                source=source,
                status=(
                    EventStatus.CLAIMED.value
                    if cue and cue.kind == "claim"
                    else EventStatus.REPORTED.value
                ),
                attributed_to=credited,
            )
        )

    def _source(self, named: list[Known], before: str) -> tuple[str, str | None]:
        """The source a sentence credits: one it names, or the words before its attribution
        verb when they are a known source's name ("Media outlets have reported" -> "Media
        reports (unnamed outlets)")."""
        if named:
            return named[0].slug, named[0].name
        words = name_key(before).split()
        # The credited words open the clause ("Media outlets have reported") or close it
        # ("…, media outlets reported").
        for phrase in [*(words[:n] for n in range(5, 0, -1)), *(words[-n:] for n in (3, 2))]:
            if not phrase:
                continue
            for known, theirs in self.index.sources:
                shared = set(phrase) & set(theirs.split())
                if any(len(w) > 3 for w in shared) and (
                    fuzz.token_set_ratio(" ".join(phrase), theirs) >= 90
                ):
                    return known.slug, known.name
        return self.batch.source, None

    def _name(self, name: Name, sentence: str) -> str | None:
        """A known actor's slug for a name the alias index missed (a typo, "Russian" for
        Russia), "+slug" for a new actor, or None for words that are no one's name."""
        text = _base_name(name, self.prefer)
        key = name_key(text)
        if not key or len(key) < 3 or _not_a_name(name):
            return None
        if key in self.decided:
            return self.decided[key]
        outcome: str | None = None
        best = self.index.closest(key)
        if best is not None and best[2] >= 85:
            alias = name_key(best[1])
            if alias[:4] == key[:4] and abs(len(alias) - len(key)) <= 3:
                outcome = best[0].slug
        elif best is None or best[2] < 80:
            proposal = self.new_actors.get(key)
            if proposal is None:
                proposal = ActorProposal(
                    slug=_free_slug(text, self.taken),
                    name=text,
                    kind=_guess_kind(name),
                    sentence=sentence,
                    source=self.batch.source,
                )
                self.new_actors[key] = proposal
                self.batch.actors.append(proposal)
                self.taken.add(proposal.slug)
            outcome = "+" + proposal.slug
        self.decided[key] = outcome
        return outcome


def _covered(name: Name, found: list[Mention]) -> bool:
    return any(m.start <= name.start < m.end for m in found)


def _not_a_name(name: Name) -> bool:
    """Month names and words for kinds of source or actor ("Telegram", "Government")."""
    if len(name.words) == 1:
        word = name.words[0].text
        if month_number(word) is not None or word.casefold() == "may":
            return True
        kinds = [k.value for k in SourceKind] + [k.value for k in ActorKind]
        if as_choice(word, kinds) is not None:
            return True
    return False


def _base_name(name: Name, prefer: str | None) -> str:
    """A name as a dictionary lists it: inflected Cyrillic nouns in their base form
    ("Харкова" -> "Харків"); other words as written."""
    out = []
    for token in name.words:
        forms = [] if token.text.isupper() else noun_forms(token.text, prefer)
        out.append(forms[0].capitalize() if forms else token.text)
    return " ".join(out)


def _guess_kind(name: Name) -> str:
    """A first guess the moderator can edit: two or three capitalised words are a person's
    name, an acronym or a single word an organisation's."""
    words = [t.text for t in name.words]
    if 2 <= len(words) <= 3 and not any(w.isupper() for w in words):
        return ActorKind.PERSON.value
    return ActorKind.ORGANISATION.value


def _free_slug(name: str, taken: set[str]) -> str:
    """A slug for a new actor that no actor has, and no other name of the batch."""
    slug = base = slugify(name)
    n = 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _date_fields(
    phrase: DatePhrase | None, published: date | None
) -> tuple[str | None, str | None, str | None]:
    """The record's date, precision and label for a date phrase (all None when undated)."""
    if phrase is None:
        return None, None, None
    value: FuzzyDate = phrase.date
    if phrase.approximate:
        assert published is not None
        label = f"“{phrase.text[:60]}”, counted from the text's date ({published.isoformat()})"
        return value.iso(), DatePrecision.APPROXIMATE.value, label
    if not phrase.year_stated:
        label = f"“{phrase.text[:60]}”; the year is the text's own ({value.start.year})"
        return value.iso(), DatePrecision.APPROXIMATE.value, label
    return value.iso(), value.precision.value, None


def _title(sentence: str) -> str:
    """The sentence as a title, cut at a word boundary."""
    text = " ".join(sentence.split()).rstrip(".")
    if len(text) <= TITLE_LENGTH:
        return text
    return text[: TITLE_LENGTH - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _with_update(existing: ExistingEvents, proposal: EventProposal) -> EventProposal:
    found = existing.match(proposal)
    if found is None:
        return proposal
    return replace(proposal, update_of=found[0], update_title=found[1])
