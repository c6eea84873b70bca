"""A briefing handed in as a file: plain text, Markdown or HTML, reduced to its text.

HTML goes through Beautiful Soup (with Python's own parser, so no compiled dependency):
scripts, styles and markup are dropped and every block element ends a line, so paragraphs
stay paragraphs for the sentence splitter.
"""

from __future__ import annotations

import re
import unicodedata

from knowledge.language.names import strip_controls
from knowledge.language.wording import N_, Explained

MAX_DOCUMENT_BYTES = 200_000  # a long briefing is ~20 KB; past this a file is not a briefing
DOCUMENT_TYPES = (".txt", ".md", ".html", ".htm")
_BLOCKS = (
    "p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote",
    "section", "article", "header", "footer", "pre", "dd", "dt",
)  # fmt: skip
_MARKDOWN = re.compile(r"^\s{0,3}(?:#{1,6}\s+|[-*+]\s+|>\s?|\d+[.)]\s+)|[*_`]{1,3}", re.M)
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


class DocumentError(Explained):
    """A file that is not a briefing we can read; the message is safe to show as is (in the
    reader's language through the catalogs, `Explained`)."""


def document_text(data: bytes, filename: str) -> str:
    """The text of a .txt, .md or .html file; DocumentError when it is none of those."""
    name = filename.lower()
    if not name.endswith(DOCUMENT_TYPES):
        raise DocumentError(
            N_("{name} is not a .txt, .md or .html file; send the briefing as one of those"),
            name=filename[:60],
        )
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            N_("{name} is {size} bytes; a briefing may be up to {limit} KB"),
            name=filename[:60],
            size=f"{len(data):,}",
            limit=MAX_DOCUMENT_BYTES // 1000,
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentError(N_("{name} is not UTF-8 text"), name=filename[:60]) from None
    if "\x00" in text:
        raise DocumentError(N_("{name} is not a text file"), name=filename[:60])
    if name.endswith((".html", ".htm")):
        text = html_text(text)
    elif name.endswith(".md"):
        text = _LINK.sub(r"\1", text)
        text = _MARKDOWN.sub("", text)
    text = strip_controls(unicodedata.normalize("NFC", text).replace("\r\n", "\n"))
    text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
    text = re.sub(r"\n{2,}", "\n", text).strip()
    if not text:
        raise DocumentError(N_("{name} has no text"), name=filename[:60])
    return text


def html_text(markup: str) -> str:
    """The visible text of an HTML document, one line per block."""
    from bs4 import BeautifulSoup  # imported on first use: only files need it

    soup = BeautifulSoup(markup, "html.parser")
    for hidden in soup(["script", "style", "noscript", "template", "head"]):
        hidden.decompose()
    for block in soup.find_all(_BLOCKS):
        block.insert_after("\n")
    return soup.get_text()
