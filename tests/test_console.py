"""The offline console: the same application and handlers, typed at and printed as text."""

from __future__ import annotations

import io
import re

from sqlalchemy import Engine

from bot.config import load_settings
from bot.console import html_to_terminal, run_console


def _session(engine: Engine, typed: str) -> str:
    out = io.StringIO()
    settings = load_settings(database_url="sqlite://", _env_file=None)
    assert run_console(settings, engine, lines=io.StringIO(typed), out=out) == 0
    return out.getvalue()


def test_console_answers_commands_and_presses_buttons_by_number(engine: Engine) -> None:
    printed = _session(engine, "/timeline\n1\n/who Єрмак\n/quit\n/help\n")
    assert printed.startswith("Briefing Bot — offline console.")
    # The timeline, as text, with its buttons numbered.
    assert "Timeline · 1–10 of 20" in printed
    buttons = re.search(r"^\[1\] #(\d+)  \[2\] #\d+", printed, flags=re.MULTILINE)
    assert buttons is not None
    # "1" pressed the first button: that event opened as a new message.
    event = printed.split(buttons.group(0), 1)[1]
    assert f"Status: ✅ confirmed · #{buttons.group(1)}" in event
    assert "Yermak named head of the Office of the President" in event
    # The Cyrillic name found Yermak; /quit ended the session before /help.
    assert "Andriy Yermak · person · #" in printed
    assert "Head of the Office of the President of Ukraine" in printed
    assert "turns a curated news briefing" not in printed
    assert "<b>" not in printed and "&#x27;" not in printed  # HTML became plain text


def test_console_edits_in_place_and_explains_missing_buttons(engine: Engine) -> None:
    printed = _session(engine, "/timeline\n12\n99\nhello\n")  # ends at end of input
    assert "(edited)\nTimeline · 11–20 of 20" in printed  # button 12 is ▶
    assert "(there is no button 99)" in printed
    assert "The briefing doesn't cover that." in printed  # "hello" is taken as a question


def test_terminal_rendering_keeps_text_and_drops_tags() -> None:
    html = '<b>Bold</b> &amp; <i>it</i> <a href="https://x.org">link</a> &lt;tag&gt;'
    assert html_to_terminal(html, color=False) == "Bold & it link <tag>"
    assert html_to_terminal("<b>x</b>", color=True) == "\x1b[1mx\x1b[0m"


def test_a_newcomer_reads_and_an_owner_who_asks_curates(engine: Engine) -> None:
    reader = _session(engine, "/modhelp\n")
    assert "python -m bot console --owner" in reader
    assert "This command is for moderators." in reader and "/add_event" not in reader
    out = io.StringIO()
    settings = load_settings(database_url="sqlite://", _env_file=None)
    run_console(settings, engine, lines=io.StringIO("/modhelp\n"), out=out, owner=True)
    assert "owner's rights" in out.getvalue() and "/add_event" in out.getvalue()
