"""HTML for the guided /add: the kind to add, each question, the preview before saving."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.commands.guided import Step
from bot.i18n import SOURCE_LANGUAGE, translator
from bot.presenters.admin import with_head
from bot.presenters.html import Reply, button, clip, esc, split_blocks
from knowledge.write.records import LIMITS


def choose_kind(language: str = SOURCE_LANGUAGE) -> Reply:
    _ = translator(language).gettext
    keyboard = InlineKeyboardMarkup(
        [
            [
                button(_("🗓 Event"), "add:k:event"),
                button(_("👤 Actor"), "add:k:actor"),
                button(_("📚 Source"), "add:k:source"),
            ],
            [button(_("✖ Cancel"), "add:no")],
        ]
    )
    return Reply(
        [
            _(
                "What would you like to add? (/cancel stops at any step; nothing is saved "
                "until you confirm.)"
            )
        ],
        keyboard,
    )


def ask(
    step: Step, number: int, count: int, error: str | None = None, language: str = SOURCE_LANGUAGE
) -> Reply:
    """One question; `error` (already in the moderator's language) when an answer was wrong."""
    _ = translator(language).gettext
    lines = []
    if error:
        lines.append(
            _("⚠️ {problem} Please try again.").format(problem=esc(clip(_sentence(error), 1000)))
        )
    prompt = _(step.prompt).format(limit=LIMITS.get(step.field, ""))
    lines.append(f"<b>{number}/{count}</b> {esc(prompt)}")
    if step.choices:
        choices = ", ".join(f"<code>{esc(c)}</code>" for c in step.choices)
        lines.append(_("One of: {choices}").format(choices=choices))
    return Reply(split_blocks(["\n".join(lines)]))


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def guided_preview(
    card: Reply | None, duplicate_of: int | None, language: str = SOURCE_LANGUAGE
) -> Reply:
    _ = translator(language).gettext
    head = _("<b>Preview</b> — this is how subscribers will see it:")
    if duplicate_of is not None:
        warning = _(
            "⚠️ An event with the same title on the same date already exists: "
            "#{other}. Confirming saves this one anyway."
        ).format(other=duplicate_of)
        head = f"{warning}\n{head}"
    reply = with_head(head, card)
    reply.keyboard = InlineKeyboardMarkup(
        [[button(_("✅ Confirm"), "add:ok"), button(_("✖ Cancel"), "add:no")]]
    )
    return reply
