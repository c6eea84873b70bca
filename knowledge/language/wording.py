"""Errors people read (a date knowledge cannot parse, settings it cannot use), kept as an
English template and its values so that the interface can word them in the reader's
language: the bot's catalogs hold every template marked with `N_`."""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a template for the interface's catalogs (extraction); it is translated there."""
    return message


class Explained(ValueError):
    """An error whose message is for people: `template`, formatted with `values`; `str()` is
    the English message."""

    def __init__(self, template: str, **values: object) -> None:
        super().__init__(template.format(**values) if values else template)
        self.template = template
        self.values = values
