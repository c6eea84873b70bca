"""How the process runs: the event loop it is given and the garbage collector after start-up
(bot/transport/runtime.py); `python -m bot` itself runs on them in tests/test_polling_e2e.py."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from bot.config import SettingsError, load_settings
from bot.transport import runtime

uvloop = pytest.importorskip("uvloop")


@pytest.fixture
def policy() -> Iterator[None]:
    """Whatever a test makes the default, the next test gets the policy it had."""
    before = asyncio.get_event_loop_policy()
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(before)


def _run(factory: object) -> str:
    async def which() -> str:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__

    with asyncio.Runner(loop_factory=factory) as runner:  # type: ignore[arg-type]
        return runner.run(which())


def test_auto_takes_uvloop_above_the_free_rate_only() -> None:
    settings = load_settings(_env_file=None)
    assert (settings.event_loop, settings.broadcast_rate) == ("auto", 30)
    assert runtime.choose_loop("auto", 30) == "asyncio"  # 2.2 MB more is not worth it at 30
    assert runtime.choose_loop("auto", 1000) == "uvloop"
    assert runtime.choose_loop("uvloop", 30) == "uvloop"
    assert runtime.choose_loop("asyncio", 1000) == "asyncio"


def test_each_kind_makes_loops_of_its_own() -> None:
    assert _run(runtime.loop_factory("uvloop")).startswith("uvloop")
    assert runtime.loop_factory("asyncio") is asyncio.new_event_loop
    assert _run(runtime.loop_factory("asyncio")).startswith("asyncio")


def test_an_unknown_event_loop_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="EVENT_LOOP"):
        load_settings(event_loop="tokio", _env_file=None)


@pytest.mark.usefixtures("policy")
def test_use_loop_makes_the_chosen_loop_the_default_for_asyncio_run() -> None:
    runtime.use_loop("auto", 30)  # the free rate: asyncio's loop stays
    assert not isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
    runtime.use_loop("auto", 1000)
    assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
    assert asyncio.run(asyncio.sleep(0, "done")) == "done"


def test_settle_after_start_leaves_later_collections_only_what_came_after() -> None:
    gc.unfreeze()
    try:
        runtime.settle_after_start()
        assert gc.get_freeze_count() > 10_000  # modules and their objects, for good
        assert len(gc.get_objects()) < 1_000  # what collections still walk
        made_after = [[]]
        assert any(obj is made_after for obj in gc.get_objects())
    finally:
        gc.unfreeze()
