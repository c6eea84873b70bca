"""Telegram HTML: escaping, clipping, splitting into parts of at most 4096 characters, buttons.

Presenters return `Reply` objects: one or more message parts (each ≤ 4096 characters) and an
optional keyboard for the last part. Domain objects never build HTML; only presenters do.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import SOURCE_LANGUAGE, translator

MESSAGE_LIMIT = 4096


CALLBACK_LIMIT = 64


def esc(value: object) -> str:
    """Escape a dynamic value for Telegram HTML (the one way every value enters a message)."""
    return html.escape(str(value), quote=True)


def clip(value: str, limit: int) -> str:
    """Shorten plain text before escaping it, so a cut never lands inside an entity."""
    value = " ".join(str(value).split()) if "\n" not in str(value) else str(value).strip()
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def to_plain(html_text: str) -> str:
    """What a reader sees of a message we rendered: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Reply:
    """What the bot says: message parts (HTML) and a keyboard under the last one."""

    parts: list[str]
    keyboard: InlineKeyboardMarkup | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.parts)


def button(text: str, data: str) -> InlineKeyboardButton:
    """A callback button; refuses data Telegram would reject rather than failing at send time."""
    if not 1 <= len(data.encode("utf-8")) <= CALLBACK_LIMIT:
        raise ValueError(f"callback data must be 1-64 bytes: {data!r}")
    return InlineKeyboardButton(text, callback_data=data)


def split_blocks(blocks: Iterable[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join self-contained HTML blocks into as few messages as fit, never splitting a block.

    Measuring the raw HTML is conservative: the visible text Telegram counts is shorter.
    A block that alone is too long is cut at a line boundary, tags being balanced per line.
    """
    parts: list[str] = []
    current = ""
    for block in blocks:
        for piece in _fit(block, limit):
            candidate = f"{current}\n{piece}" if current else piece
            if utf16_len(candidate) <= limit:
                current = candidate
            else:
                parts.append(current)
                current = piece
    if current:
        parts.append(current)
    return parts or ["…"]


def _fit(block: str, limit: int) -> list[str]:
    if utf16_len(block) <= limit:
        return [block]
    pieces: list[str] = []
    current = ""
    for line in block.split("\n"):
        while utf16_len(line) > limit:  # a single line this long only comes from plain text
            pieces.append(line[: limit // 2])
            line = line[limit // 2 :]
        candidate = f"{current}\n{line}" if current else line
        if utf16_len(candidate) <= limit:
            current = candidate
        else:
            pieces.append(current)
            current = line
    if current:
        pieces.append(current)
    return pieces


def numbered(parts: list[str], language: str = SOURCE_LANGUAGE) -> list[str]:
    """Label parts "part 1/3" when a reply needs more than one message."""
    if len(parts) < 2:
        return parts
    labelled = []
    part_of = translator(language).gettext("<i>part {number}/{total}</i>")
    for i, part in enumerate(parts, 1):
        label = part_of.format(number=i, total=len(parts)) + "\n"
        labelled.append(label + part if utf16_len(label + part) <= MESSAGE_LIMIT else part)
    return labelled


def plain(text: str) -> Reply:
    """A fixed message with no dynamic values (still escaped, to be safe)."""
    return Reply([esc(text)])
