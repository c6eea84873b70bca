"""/propose's chat syntax: the text after the command, the source a message's text comes
from (a forwarded channel post's origin, or the name given), `source: NAME` on the first line."""

from __future__ import annotations

from telegram import Message, MessageOriginChannel

from knowledge.language.names import strip_controls
from knowledge.write.proposals.model import Origin


def arguments_of(message: Message) -> str:
    """What follows the command word, line breaks kept (they separate paragraphs)."""
    raw = message.text or message.caption or ""
    parts = raw.split(maxsplit=1)
    return strip_controls(parts[1]).strip() if len(parts) > 1 else ""


def origin_of(message: Message, name: str) -> Origin | None:
    """The source a message's text comes from: a channel post's origin, or the name given."""
    forwarded = message.forward_origin
    if isinstance(forwarded, MessageOriginChannel):
        chat = forwarded.chat
        url = f"https://t.me/{chat.username}/{forwarded.message_id}" if chat.username else None
        return Origin(
            source=name or chat.title or chat.username or "a Telegram channel",
            kind="telegram_channel",
            url=url,
            published=forwarded.date.date(),
        )
    if name:
        return Origin(source=name, published=message.date.date())
    return None


def split_source(arguments: str) -> tuple[str, str]:
    """`source: NAME` on the first line, then the text; ("", text) without one."""
    first, _, rest = arguments.partition("\n")
    if first.casefold().startswith("source:"):
        return first.split(":", 1)[1].strip()[:200], rest.strip()
    return "", arguments
