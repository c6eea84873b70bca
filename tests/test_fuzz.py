"""Property: whatever a stranger sends — any command, any argument, any button data — the bot
answers within Telegram's rules (the strict fake refuses anything else), raises nothing, and
changes nothing. A small example budget by default; FUZZ_EXAMPLES=500 for a longer run."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func
from sqlmodel import select

from knowledge.models import Draft, Entry, Revision
from knowledge.storage.database import session_scope
from tests.fakebotapi import make_callback_update
from tests.harness import BotHarness

pytestmark = pytest.mark.usefixtures("backend")

COMMANDS = [
    "start", "help", "about", "timeline", "event", "who", "sources", "search", "subscription",
    "add_event", "add_actor", "add_source", "edit", "retract", "undo", "history", "import",
    "pending", "approve", "reject", "mods", "mod", "audit", "digest", "channel", "channels",
    "nosuchcommand",
]  # fmt: skip
PREFIXES = ["tl:", "sr:", "ev:", "who:", "src:", "open:", "mh:", "mc:y:", "mc:n:", "add:", ""]
STRANGER = 4242
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

arguments = st.one_of(
    st.text(max_size=60),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["2023", "2022-02..2023-07", "<b>x</b>", "a | b | c | d", "\x00", "#12"]),
)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _state(engine: Engine) -> tuple[int, int, int]:
    with session_scope(engine) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(model)).one()
            for model in (Entry, Revision, Draft)
        )


@FUZZ
@given(command=st.sampled_from(COMMANDS), argument=arguments)
async def test_any_command_from_a_stranger_is_answered_cleanly(
    harness: BotHarness, engine: Engine, command: str, argument: str
) -> None:
    before = _state(engine)
    replies = await harness.send(f"/{command} {argument}", chat_id=STRANGER)
    assert all("went wrong" not in reply.plain for reply in replies)
    assert [c.description for c in harness.fake.calls if not c.ok] == []
    assert _state(engine) == before


@FUZZ
@given(prefix=st.sampled_from(PREFIXES), tail=st.text(max_size=40))
async def test_any_button_data_is_answered_cleanly(
    harness: BotHarness, engine: Engine, prefix: str, tail: str
) -> None:
    data = (prefix + tail).encode()[:64].decode(errors="ignore") or "x"
    message = (await harness.send("/help", chat_id=STRANGER))[0]
    before = _state(engine)
    await harness.process(make_callback_update(data, message, user_id=STRANGER))
    sent = harness.fake.messages_to(STRANGER)
    assert all("went wrong" not in m.plain for m in sent)
    assert [c.description for c in harness.fake.calls if not c.ok] == []
    assert _state(engine) == before
