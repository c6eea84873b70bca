"""Answers to questions in plain words: a direct answer first, built only from the entries
behind it (each with its status and where it comes from), then buttons to open them.

The answer's own sentences follow the question's language where the bot has it (English,
Ukrainian); entry text stays as curated.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardMarkup

from bot.i18n import translator
from bot.presenters.entries import CURATORS_MARK, STATUS_MARK, STATUS_NAME, named, shown
from bot.presenters.html import Reply, button, clip, esc, split_blocks
from knowledge.read.questions import Candidate, QuestionAnswer, Verdict
from knowledge.read.views import ActorDetail, CitationView, EventDetail, Gap

MORE_SHOWN = 4
SUMMARY_SHOWN = 900


def _status(language: str, status: str) -> str:
    mark = STATUS_MARK.get(status)
    name = esc(named(STATUS_NAME, status, language))
    return f"{mark} {name}" if mark else name


def _sources_line(language: str, citations: Sequence[CitationView], curators_only: bool) -> str:
    names = ", ".join(dict.fromkeys(esc(clip(c.source_name, 80)) for c in citations)) or "—"
    _ = translator(language).gettext
    line = _("Source: {names}").format(names=names)
    curators = _("{mark} added by the curators from public record").format(mark=CURATORS_MARK)
    return line + (f"\n<i>{curators}</i>" if curators_only else "")


def _candidate_line(candidate: Candidate) -> str:
    mark = "" if candidate.from_briefing else CURATORS_MARK
    if candidate.kind == "event":
        title = shown(candidate.title, 160, candidate.untranslated)
        date_text = esc(clip(candidate.date_text, 80))
        status = STATUS_MARK.get(candidate.status, "•")
        return f"{status}{mark} <b>{date_text}</b> — {title} #{candidate.id}"
    if candidate.kind == "source":
        return f"📚 <b>{shown(candidate.title, 120, candidate.untranslated)}</b> #{candidate.id}"
    subtitle = f" — {esc(clip(candidate.date_text, 80))}" if candidate.date_text else ""
    title = shown(candidate.title, 120, candidate.untranslated)
    return f"👤{mark} <b>{title}</b>{subtitle} #{candidate.id}"


def _open_buttons(language: str, ids: Sequence[int]) -> InlineKeyboardMarkup | None:
    shown = list(dict.fromkeys(ids))[: MORE_SHOWN + 1]
    if not shown:
        return None
    label = translator(language).gettext("Open #{id}")
    row = [button(label.format(id=i), f"open:{i}") for i in shown]
    return InlineKeyboardMarkup([row[i : i + 3] for i in range(0, len(row), 3)])


def _event_answer(language: str, detail: EventDetail, intent: str) -> list[str]:
    date_text = esc(clip(detail.date_text, 120))
    missing = set(detail.untranslated)
    title = shown(detail.title, 200, "title" in missing)
    lead = (
        f"📅 <b>{date_text}</b> — {title}" if intent == "when" else f"<b>{title}</b> ({date_text})"
    )
    blocks = [f"{lead}\n{_status(language, detail.status)} · #{detail.id}"]
    if detail.summary:
        blocks.append(shown(detail.summary, SUMMARY_SHOWN, "summary" in missing))
    if intent == "source":
        notes = [
            f"• <b>{esc(clip(c.source_name, 100))}</b>" + (f" — <i>{esc(clip(c.note, 400))}</i>"
                                                          if c.note else "")
            for c in detail.citations
        ]  # fmt: skip
        blocks.append(
            translator(language).gettext("Where it comes from:") + "\n" + "\n".join(notes)
        )
    else:
        blocks.append(_sources_line(language, detail.citations, not detail.from_briefing))
    return blocks


def _actor_answer(language: str, detail: ActorDetail) -> list[str]:
    missing = set(detail.untranslated)
    role = f" — {shown(detail.role, 200, 'role' in missing)}" if detail.role else ""
    blocks = [f"<b>{shown(detail.name, 120, 'name' in missing)}</b>{role} · #{detail.id}"]
    if detail.description:
        blocks.append(shown(detail.description, SUMMARY_SHOWN, "description" in missing))
    blocks.append(_sources_line(language, detail.sources, not detail.from_briefing))
    return blocks


def question_reply(
    answer: QuestionAnswer,
    lead: EventDetail | ActorDetail | None,
    briefing_title: str,
    language: str,
) -> Reply:
    """The reply to a question: the answer, the entries it rests on, buttons to open them."""
    _ = translator(language).gettext
    entries = answer.entries
    if answer.verdict == Verdict.NOT_COVERED:
        blocks = [_("The briefing doesn't cover that.")]
        if answer.unknown:
            shown = ", ".join(f"“{esc(clip(w, 40))}”" for w in answer.unknown[:5])
            blocks[0] += " " + _("It says nothing about: {words}.").format(words=shown)
        blocks.append(
            _(
                "It covers: {title}. Ask about the people, places and events in it, "
                "or try /timeline, /who and /search."
            ).format(title=esc(clip(briefing_title, 200)))
        )
        return Reply(["\n\n".join(blocks)])
    if answer.verdict == Verdict.CHOICE:
        keyboard = InlineKeyboardMarkup(
            [[button(clip(f"{c.title} ({c.date_text})" if c.date_text else c.title, 60),
                     f"open:{c.id}")] for c in entries[:3]]
        )  # fmt: skip
        lines = "\n".join(_candidate_line(c) for c in entries[:3])
        choice = _("Your question can be read more than one way. Which did you mean?")
        return Reply([f"{choice}\n\n{lines}"], keyboard)
    if answer.verdict == Verdict.UNSURE:
        lines = "\n".join(_candidate_line(c) for c in entries[:3])
        unsure = _("I'm not sure the briefing answers that. The nearest entries:")
        return Reply(
            [f"{unsure}\n\n{lines}"],
            _open_buttons(language, [c.id for c in entries[:3]]),
        )
    if answer.anchor is not None or lead is None:
        head = _("On the timeline:")
        if answer.anchor is not None:
            which = (
                _("Before {title} ({date}):")
                if answer.question.relation == "before"
                else _("After {title} ({date}):")
            )
            head = which.format(
                title=esc(clip(answer.anchor.title, 160)), date=esc(answer.anchor.date_text)
            )
        lines = "\n".join(_candidate_line(c) for c in entries)
        return Reply([f"{head}\n\n{lines}"], _open_buttons(language, [c.id for c in entries]))
    if isinstance(lead, EventDetail):
        blocks = _event_answer(language, lead, answer.question.intent)
    else:
        blocks = _actor_answer(language, lead)
    more = [c for c in entries[1:] if c.id != lead.id][:MORE_SHOWN]
    if more:
        blocks.append(_("Also relevant:") + "\n" + "\n".join(_candidate_line(c) for c in more))
    return Reply(
        split_blocks(["\n\n".join(blocks)]),
        _open_buttons(language, [lead.id, *(c.id for c in more)]),
    )


def ask_hint(language: str) -> Reply:
    return Reply(
        [
            translator(language).gettext(
                "Ask me about the briefing in your own words, e.g. "
                "<i>Who is Yermak?</i> or <i>What happened at the Vilnius summit?</i>"
            )
        ]
    )


def gaps_reply(gaps: Sequence[Gap], days: int, *, language: str = "en") -> Reply:
    """/gaps: what readers asked that the briefing could not answer, most asked first."""
    tr = translator(language)
    if not gaps:
        text = tr.ngettext(
            "No unanswered questions in the last {days} day.",
            "No unanswered questions in the last {days} days.",
            days,
        )
        return Reply([text.format(days=days)])
    unsure = " <i>" + tr.gettext("(unsure)") + "</i>"
    lines = [f"{g.count}× {esc(clip(g.text, 200))}" + (unsure if g.unsure else "") for g in gaps]
    head = tr.ngettext(
        "<b>Questions the bot could not answer</b> (last {days} day, most asked first)",
        "<b>Questions the bot could not answer</b> (last {days} days, most asked first)",
        days,
    )
    return Reply(split_blocks([head.format(days=days), "\n".join(lines)]))
