"""Name keys for matching: case-folding, Cyrillic transliteration and spelling variants.

Yermak, Jermak, Iermak, Єрмак and Ермак all reduce to the same key, so an exact key lookup
finds them; a typo such as "yermack" lands close enough for fuzzy matching.
"""

from __future__ import annotations

import re
import unicodedata

# One Latin rendering for Ukrainian and Russian letters; variants are folded afterwards.
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ye", "ё": "yo",
    "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": "yi", "й": "y", "к": "k", "л": "l", "м": "m",
    "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh",
    "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e",
    "ю": "yu", "я": "ya", "ў": "w",
}  # fmt: skip

# Spelling variants of the same sound in common romanisations, folded to one form.
_VARIANTS = [
    (re.compile(r"^(ye|je|ie|e)"), "e"),  # Yermak / Jermak / Iermak / Ermak
    (re.compile(r"(?<=[aeiouy])(ye|je|ie)"), "e"),
    (re.compile(r"shch|sch"), "sh"),
    (re.compile(r"kh|ch(?=[^aeiouy]|$)"), "h"),
    (re.compile(r"ck|q|c(?=[^hei])"), "k"),
    (re.compile(r"(?<=[aeiou])j|j(?=[aeiou])"), "y"),
    (re.compile(r"iy\b|yy\b|ii\b|yi\b"), "y"),  # Zelenskyy / Zelenskiy / Zelenskii
    (re.compile(r"w"), "v"),
    (re.compile(r"(.)\1+"), r"\1"),  # doubled letters
]
_NON_WORD = re.compile(r"[^a-z0-9]+")


class _Folding(dict[int, str]):
    """Each character's folded form (Cyrillic transliterated, then decomposed without its
    accents), worked out on first sight: `str.translate` then folds text in C. Decomposing
    character by character is the same as decomposing the whole text, as the accents, the
    only part whose order could change, are dropped."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        decomposed = unicodedata.normalize("NFKD", _CYRILLIC.get(ch, ch))
        self[code] = "".join(c for c in decomposed if not unicodedata.combining(c))
        return self[code]


_FOLDING = _Folding()


def fold(text: str) -> str:
    """Lower-case, strip accents and transliterate Cyrillic; keep word boundaries as spaces."""
    if text.isascii():  # most entry text: nothing to normalise or transliterate
        return _NON_WORD.sub(" ", text.lower()).strip()
    text = unicodedata.normalize("NFKC", text).casefold().translate(_FOLDING)
    return _NON_WORD.sub(" ", text).strip()


def name_key(text: str) -> str:
    """The matching key of a name: folded, spelling variants unified, per word."""
    words = []
    for word in fold(text).split():
        for pattern, replacement in _VARIANTS:
            word = pattern.sub(replacement, word)
        words.append(word)
    return " ".join(words)


def slugify(text: str, max_length: int = 80) -> str:
    """A stable ASCII slug for a new entry's name or title."""
    slug = fold(text).replace(" ", "-")
    return slug[:max_length].strip("-") or "entry"


# Control characters (C0, DEL, C1), the bidirectional overrides, embeddings and isolates that
# can make text display other than it reads, the zero-width space and the byte-order mark.
# Zero-width joiners and
# non-joiners stay: emoji sequences and several scripts need them.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2028-\u202e\u2066-\u2069\ufeff]"
)


def strip_controls(text: str) -> str:
    """Text without control characters (see _CONTROL); what PostgreSQL can't store goes too."""
    return _CONTROL.sub("", text)


def clean_input(text: str, max_length: int) -> str:
    """User text with control characters removed, whitespace trimmed, length capped."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    return " ".join(text.split())[:max_length]
