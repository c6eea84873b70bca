"""`python -m bot` as an operator runs it: bad settings, loading and exporting briefings.

Each case is a real subprocess with its own environment, in a temporary folder so no `.env`
is read; a misconfiguration must end with one clear line and exit code 2, never a traceback
and never the token's value.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot import __main__ as entry
from bot.config import Settings, SettingsError, load_settings

SECRET = "987654321:AAH-this-is-a-secret-token-value"


def run_main(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """`main()` in this process, with the environment `run_bot` gives a child: the same code
    after the interpreter starts, without the second it takes to import everything again."""
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # its `.env`, if any, not the project's
    monkeypatch.setattr(entry, "configure_logging", lambda *_: None)  # the root logger stays
    capsys.readouterr()
    code = entry.main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["main", *args], code, out, err)


def run_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input="",
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"ADMIN_IDS": "abc", "TELEGRAM_BOT_TOKEN": SECRET}, "ADMIN_IDS"),
        ({"TELEGRAM_BOT_TOKEN": "changeme"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": SECRET.replace(":", "")}, "TELEGRAM_BOT_TOKEN"),
        ({"DATABASE_URL": "mysql://x", "TELEGRAM_BOT_TOKEN": SECRET}, "DATABASE_URL"),
        ({"LOG_LEVEL": "chatty", "TELEGRAM_BOT_TOKEN": SECRET}, "LOG_LEVEL"),
    ],
    ids=["admin-ids", "placeholder-token", "malformed-token", "mysql-url", "log-level"],
)
def test_invalid_settings_exit_2_with_one_clear_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    problem: str,
) -> None:
    result = run_main(tmp_path, monkeypatch, capsys, **env)
    assert_one_clear_line(result, problem)
    assert not (tmp_path / "bot.db").exists()  # nothing was touched


def test_invalid_settings_in_a_real_process_exit_2_with_one_clear_line(tmp_path: Path) -> None:
    result = run_bot(tmp_path, ADMIN_IDS="abc", TELEGRAM_BOT_TOKEN=SECRET)
    assert_one_clear_line(result, "ADMIN_IDS")
    assert not (tmp_path / "bot.db").exists()


def assert_one_clear_line(result: subprocess.CompletedProcess[str], problem: str) -> None:
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("briefing-bot: invalid configuration:")
    assert problem in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    for value in (SECRET, SECRET.replace(":", ""), "changeme"):
        assert value not in result.stderr


def test_run_without_a_token_exits_2_saying_what_to_set(tmp_path: Path) -> None:
    """A container's `run` with no token fails loudly instead of idling in a console."""
    result = run_bot(tmp_path, "run")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "TELEGRAM_BOT_TOKEN is not set" in line and "console" in line
    assert result.stdout == ""
    assert not (tmp_path / "bot.db").exists()


def test_no_sub_command_without_a_token_opens_the_console(tmp_path: Path) -> None:
    result = run_bot(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "opening the offline console" in result.stderr


def test_a_dot_env_file_is_read_and_validated_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={SECRET}\nADMIN_IDS=1,x\n")
    result = run_main(tmp_path, monkeypatch, capsys)
    assert result.returncode == 2
    assert "ADMIN_IDS" in result.stderr
    assert SECRET not in result.stderr


def test_settings_errors_name_every_problem_without_values() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, admin_ids="1,two", telegram_bot_token=SECRET[:-20] + " x")
    message = str(caught.value)
    assert "ADMIN_IDS" in message and "TELEGRAM_BOT_TOKEN" in message
    assert "two" not in message and SECRET[:10] not in message


BROKEN = """\
sources:
  - slug: wire
    name: Wire
    kind: news_outlet
actors:
  - slug: someone
    kind: person
    name: Someone
    sources: [nowhere]
events:
  - slug: bad-date
    date: 2023-02-30
    title: An impossible day
    citations: [wire]
  - slug: bad-date
    date: 2023
    title: Duplicate
    citations: [wire]
"""


def test_load_reports_every_problem_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    result = run_bot(tmp_path, "load", str(path))  # once in a real process, then in this one
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "broken.yaml:15: events[1]: duplicate slug “bad-date”" in result.stderr

    fixed_duplicate = "  - slug: ok\n    date: 2023\n"
    path.write_text(BROKEN.replace("  - slug: bad-date\n    date: 2023\n", fixed_duplicate))
    result = run_main(tmp_path, monkeypatch, capsys, "load", str(path))
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert "broken.yaml:6: actors[0]: unknown source “nowhere”" in errors
    assert any(e.startswith("broken.yaml:11: events[0]: date:") and "28 days" in e for e in errors)

    path.write_text("events:\n  - slug: x\n    title: [unclosed\n")
    result = run_main(tmp_path, monkeypatch, capsys, "load", str(path))
    assert result.returncode == 1
    assert [e for e in result.stderr.splitlines() if e.startswith("broken.yaml:4: ")]
    missing = run_main(tmp_path, monkeypatch, capsys, "load", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 1
    assert "cannot read" in missing.stderr and "Traceback" not in missing.stderr


def test_load_then_export_round_trips_a_briefing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "extra.yaml"
    path.write_text(
        BROKEN.split("actors:")[0]
        + "events:\n  - slug: wire-story\n    date: 2024-05\n    title: A wire story\n"
        "    citations: [wire]\n"
    )
    loaded = run_bot(tmp_path, "load", str(path))
    assert loaded.returncode == 0, loaded.stderr
    assert "extra.yaml: 2 added" in loaded.stdout

    exported = run_main(tmp_path, monkeypatch, capsys, "export")
    assert exported.returncode == 0, exported.stderr
    data = yaml.safe_load(exported.stdout)
    assert {"sources", "actors", "events"} <= set(data)
    assert [e["slug"] for e in data["events"]] == ["wire-story"]
    assert data["events"][0]["citations"] == [{"source": "wire", "note": ""}]
    assert [s["name"] for s in data["sources"]] == ["Wire"]
