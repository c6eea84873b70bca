"""Telegram's HTML parse mode, as strictly as Telegram parses it: text -> plain text + entities."""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from typing import NoReturn

from tests.fakebotapi.constants import (
    JSONDict,
)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram uses for limits/offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --------------------------------------------------------------------------------------
# Strict Telegram HTML parser
# --------------------------------------------------------------------------------------


class TelegramHTMLError(ValueError):
    """Raised by :func:`parse_telegram_html` for text Telegram would refuse.

    ``message`` is the parser message (e.g. ``Unsupported start tag "foo" at byte offset
    0``); ``description`` is the full Bot API description
    (``Bad Request: can't parse entities: ...``).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def description(self) -> str:
        """The Bot API error description for this parse error."""
        return f"Bad Request: can't parse entities: {self.message}"


_HTML_SPACE = frozenset(" \t\r\n\v\f\0")
_ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_SIMPLE_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_DEC_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _decode_html_entity(text: str, pos: int, *, require_semicolon: bool) -> tuple[str, int] | None:
    """Decode the character reference starting at ``text[pos] == "&"``.

    Returns ``(character, index after the reference)`` or ``None`` if it is not one of the
    references Telegram understands (``&lt; &gt; &amp; &quot; &#NNN; &#xHH;``).
    """
    n = len(text)
    j = pos + 1
    if j < n and text[j] == "#":
        j += 1
        is_hex = j < n and text[j] == "x"
        if is_hex:
            j += 1
        start = j
        digits = _HEX_DIGITS if is_hex else _DEC_DIGITS
        while j < n and text[j] in digits:
            j += 1
        if j == start or j - start > 8:
            return None
        code = int(text[start:j], 16 if is_hex else 10)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        start = j
        while j < n and text[j].isascii() and text[j].isalpha():
            j += 1
        named = _NAMED_ENTITIES.get(text[start:j])
        if named is None:
            return None
        char = named
    if j < n and text[j] == ";":
        return char, j + 1
    if require_semicolon:
        return None
    return char, j


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_start: int


class _TelegramHTMLParser:
    """Port of TDLib's ``parse_html`` (what the Bot API uses), made slightly stricter."""

    def __init__(self, text: str, *, strict_ampersand: bool) -> None:
        self.text = text
        self.n = len(text)
        self.strict_ampersand = strict_ampersand
        self.out: list[str] = []
        self.u16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[JSONDict] = []

    def byte_offset(self, index: int) -> int:
        return len(self.text[:index].encode("utf-8", "surrogatepass"))

    @staticmethod
    def fail(message: str) -> NoReturn:
        raise TelegramHTMLError(message)

    def emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.u16 += utf16_len(chunk)

    def parse(self) -> tuple[str, list[JSONDict]]:
        text, n = self.text, self.n
        i = 0
        while i < n:
            ch = text[i]
            if ch == "&":
                decoded = _decode_html_entity(text, i, require_semicolon=self.strict_ampersand)
                if decoded is None:
                    if self.strict_ampersand:
                        self.fail(
                            f'Character "&" at byte offset {self.byte_offset(i)} does not start '
                            "a supported HTML entity (&lt; &gt; &amp; &quot; &#N; &#xH;); "
                            'escape it as "&amp;"'
                        )
                    self.emit("&")
                    i += 1
                    continue
                self.emit(decoded[0])
                i = decoded[1]
                continue
            if ch != "<":
                # The whole run up to the next tag or reference at once (per character, a
                # long message took milliseconds).
                found = (text.find("<", i), text.find("&", i))
                stop = min((p for p in found if p != -1), default=n)
                self.emit(text[i:stop])
                i = stop
                continue
            is_end_tag = i + 1 < n and text[i + 1] == "/"
            i = self.end_tag(i) if is_end_tag else self.start_tag(i)
        if self.stack:
            self.fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def skip_spaces(self, i: int) -> int:
        while i < self.n and self.text[i] in _HTML_SPACE:
            i += 1
        return i

    def start_tag(self, begin: int) -> int:
        text, n = self.text, self.n
        offset = self.byte_offset(begin)
        i = begin + 1
        while i < n and text[i] not in _HTML_SPACE and text[i] != ">":
            i += 1
        if i >= n:
            self.fail(f"Unclosed start tag at byte offset {offset}")
        name = text[begin + 1 : i].lower()
        if name not in _ALLOWED_TAGS:
            self.fail(f'Unsupported start tag "{name}" at byte offset {offset}')
        argument = ""
        while True:
            i = self.skip_spaces(i)
            if i >= n:
                self.fail(f'Unclosed start tag "{name}" at byte offset {offset}')
            if text[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and text[i] not in _HTML_SPACE and text[i] not in "=>":
                i += 1
            attr = text[attr_start:i]
            if not attr:
                self.fail(f'Empty attribute name in the tag "{name}" at byte offset {offset}')
            i = self.skip_spaces(i)
            if i >= n or text[i] != "=":
                if name == "blockquote" and attr == "expandable":
                    argument = "1"
                    continue
                self.fail(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{name}" at byte offset {offset}'
                )
            i = self.skip_spaces(i + 1)
            if i >= n:
                self.fail(f'Unclosed start tag "{name}" at byte offset {offset}')
            if text[i] in "'\"":
                quote = text[i]
                i += 1
                buf: list[str] = []
                while i < n and text[i] != quote:
                    if text[i] == "&":
                        decoded = _decode_html_entity(text, i, require_semicolon=False)
                        if decoded is not None:
                            buf.append(decoded[0])
                            i = decoded[1]
                            continue
                    buf.append(text[i])
                    i += 1
                if i >= n:
                    self.fail(f"Unclosed start tag at byte offset {offset}")
                i += 1
                value = "".join(buf)
            else:
                token_start = i
                while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                    i += 1
                value = text[token_start:i].lower()
                if i >= n or (text[i] not in _HTML_SPACE and text[i] != ">"):
                    self.fail(
                        "Unexpected end of name token at byte offset "
                        f"{self.byte_offset(token_start)}"
                    )
            if name == "a" and attr == "href":
                argument = value
            elif name == "code" and attr == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif name == "span" and attr == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif name == "tg-emoji" and attr == "emoji-id":
                argument = value
            elif name == "blockquote" and attr == "expandable":
                argument = "1"
        if name == "span" and argument != "spoiler":
            self.fail(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
        if name == "a" and not argument.strip():
            self.fail(f'Tag "a" must have a non-empty "href" attribute at byte offset {offset}')
        self.stack.append(_OpenTag(name, argument, self.u16))
        return i

    def end_tag(self, begin: int) -> int:
        text, n = self.text, self.n
        offset = self.byte_offset(begin)
        if not self.stack:
            self.fail(f"Unexpected end tag at byte offset {offset}")
        i = begin + 2
        while i < n and text[i] not in _HTML_SPACE and text[i] != ">":
            i += 1
        end_name = text[begin + 2 : i].lower()
        i = self.skip_spaces(i)
        if i >= n or text[i] != ">":
            self.fail(f"Unclosed end tag at byte offset {offset}")
        top = self.stack[-1]
        if end_name and end_name != top.name:
            self.fail(
                f'Unmatched end tag at byte offset {offset}, expected "</{top.name}>", '
                f'found "</{end_name}>"'
            )
        self.stack.pop()
        self.close(top)
        return i + 1

    def close(self, tag: _OpenTag) -> None:
        if tag.name == "tg-emoji" and (not tag.argument.isdigit() or int(tag.argument) == 0):
            self.fail("Invalid custom emoji identifier specified")
        length = self.u16 - tag.utf16_start
        if length <= 0:
            return
        offset = tag.utf16_start
        entity: JSONDict = {"type": "", "offset": offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same_range = last is not None and last["offset"] == offset and last["length"] == length
        if tag.name in _SIMPLE_TAG_TYPES:
            entity["type"] = _SIMPLE_TAG_TYPES[tag.name]
        elif tag.name == "a":
            mention = re.fullmatch(r"tg://user\?id=(\d+)", tag.argument)
            if mention:
                entity["type"] = "text_mention"
                entity["user"] = {"id": int(mention.group(1)), "is_bot": False, "first_name": ""}
            else:
                entity["type"] = "text_link"
                entity["url"] = tag.argument
        elif tag.name == "code":
            if last is not None and same_range and last["type"] == "pre":
                if tag.argument:
                    last["language"] = tag.argument
                return
            entity["type"] = "code"
            if tag.argument:
                entity["language"] = tag.argument
        elif tag.name == "pre":
            if last is not None and same_range and last["type"] == "code":
                last["type"] = "pre"
                return
            entity["type"] = "pre"
        elif tag.name == "tg-emoji":
            entity["type"] = "custom_emoji"
            entity["custom_emoji_id"] = tag.argument
        elif tag.name == "blockquote":
            entity["type"] = "expandable_blockquote" if tag.argument else "blockquote"
        self.entities.append(entity)


def parse_telegram_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML exactly as strictly as the Bot API (a bit stricter).

    Returns ``(plain_text, entities)`` where entity offsets/lengths are in UTF-16 code units
    and ``plain_text`` has tags removed and character references decoded. The text is *not*
    trimmed (the server trims leading/trailing whitespace afterwards, like Telegram).

    Supported tags: ``b strong i em u ins s strike del span(class="tg-spoiler") tg-spoiler
    a(href) code(class="language-x") pre blockquote(expandable) tg-emoji(emoji-id)``.
    Supported references: ``&lt; &gt; &amp; &quot; &#NNN; &#xHH;``.

    Raises :class:`TelegramHTMLError` with TDLib's message (e.g. ``Unsupported start tag
    "foo" at byte offset 3``, ``Can't find end tag corresponding to start tag "b"``,
    ``Unmatched end tag at byte offset N, expected "</b>", found "</i>"``). With
    ``strict_ampersand`` (default) a bare ``&`` is an error, unlike real Telegram.
    """
    plain, entities = _parsed(text, strict_ampersand)
    return plain, copy_entities(entities)


@functools.lru_cache(maxsize=256)
def _parsed(text: str, strict_ampersand: bool) -> tuple[str, list[JSONDict]]:
    """Parsing is a pure function of the text: a broadcast sends one text to thousands of
    chats, and at a thousand messages a second the fake must not be what the machine spends
    its cores on. (Errors are not cached: they are raised again each time.) Callers get
    copies of the entities (`parse_telegram_html`)."""
    return _TelegramHTMLParser(text, strict_ampersand=strict_ampersand).parse()


def copy_entities(entities: list[JSONDict]) -> list[JSONDict]:
    """A copy of a list of entities deep enough that no caller shares a dict: an entity is
    flat but for `user` (text_mention), a flat dict itself. (copy.deepcopy costs ten times
    as much, which at a thousand messages a second is a sixth of the fake's time.)"""
    return [
        {key: dict(value) if isinstance(value, dict) else value for key, value in entity.items()}
        for entity in entities
    ]


_TRIM_CHARS = " \t\r\n\v\f"


def _trim_formatted(plain: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Strip leading/trailing whitespace like Telegram does, shifting/clipping entities."""
    left = plain.lstrip(_TRIM_CHARS)
    lead = utf16_len(plain[: len(plain) - len(left)])
    result = left.rstrip(_TRIM_CHARS)
    total = utf16_len(result)
    trimmed: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            trimmed.append({**entity, "offset": start, "length": end - start})
    return result, trimmed


# --------------------------------------------------------------------------------------
# Update / object factories
# --------------------------------------------------------------------------------------

_update_ids = itertools.count(1)
_message_ids = itertools.count(1_000_001)
_query_ids = itertools.count(1)
