"""Smoke test of a built image, as an operator would run it (scripts/image-check runs it).

    python scripts/image_smoke.py IMAGE

Needs podman (CONTAINERS_CONF as scripts/image-check sets it) and, for the PostgreSQL round,
TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres): a database of
its own is made there and dropped. The bot talks to the tests' strict fake Bot API on
127.0.0.1 (`--network host`). Exits 1 with the reason at the first check that fails.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakebotapi import FakeBotAPI

ROOT = Path(__file__).resolve().parents[1]
USER_ID = 424242
CHECK_DB = "briefing_image_check"
# podman's timer for a HEALTHCHECK needs systemd, and says so on stderr: short runs go without
# it; the serving bot keeps it without a timer, and it is run once (`podman healthcheck run`).
RUN = ("run", "--no-healthcheck")
OFFLINE = (*RUN, "--network=none")
SERVE = ("run", "--health-interval=disable")


class SmokeError(Exception):
    pass


def podman(
    *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], input=stdin, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def check(condition: bool, what: str, detail: str = "") -> None:
    if not condition:
        raise SmokeError(f"{what}\n{detail}".rstrip())
    print(f"  ok: {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def the_image(image: str) -> None:
    user = podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip()
    check(user == "10001:10001", f"runs as a numeric non-root user ({user})")
    health = podman("image", "inspect", "--format", "{{.Config.Healthcheck}}", image).stdout
    check("healthz" in health, "keeps its HEALTHCHECK", health)
    uid = podman(*OFFLINE, "--rm", "--entrypoint", "id", image, "-u").stdout.strip()
    check(uid == "10001", f"the process's uid is {uid}")
    spec = "import importlib.util as u; print([m for m in ('pip','setuptools') if u.find_spec(m)])"
    found = podman(*OFFLINE, "--rm", "--entrypoint", "python", image, "-c", spec).stdout.strip()
    check(found == "[]", f"no pip or setuptools in the runtime venv ({found})")
    zone = "import zoneinfo; print(zoneinfo.ZoneInfo('Europe/Kiev'))"
    kiev = podman(*OFFLINE, "--rm", "--entrypoint", "python", image, "-c", zone)
    check(kiev.stdout.strip() == "Europe/Kiev", "knows the zone Europe/Kiev", kiev.stderr)


def the_console(image: str) -> None:
    answer = podman(*OFFLINE, "--rm", "-i", image, "console", stdin="/who Yermak\n")
    check(
        answer.returncode == 0 and "Andriy Yermak" in answer.stdout,
        "`console` answers /who Yermak",
        answer.stdout[-2000:] + answer.stderr[-2000:],
    )


def no_token(image: str) -> None:
    result = podman(*OFFLINE, "--rm", image)  # CMD run
    lines = result.stderr.strip().splitlines()
    check(
        result.returncode == 2 and len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0],
        f"`run` without a token exits {result.returncode} with one line: {lines[:1]}",
        result.stderr,
    )


def compose_init(image: str, environment: dict[str, str]) -> None:
    """The compose file's one-shot `init` service, run with this image."""
    compose = yaml.safe_load((ROOT / "docs" / "compose.example.yaml").read_text())
    init = compose["services"]["init"]
    env = [f"--env={key}={value}" for key, value in environment.items()]
    result = podman(
        *RUN, "--rm", "--network=host", *env, f"--entrypoint={init['entrypoint'][0]}",
        image, *init["entrypoint"][1:], *init["command"],
    )  # fmt: skip
    check(result.returncode == 0, "the compose file's init service prepares the database",
          result.stderr[-3000:])  # fmt: skip


async def serves(image: str, label: str, environment: dict[str, str]) -> None:
    """`run` with a token, read-only root and the data volume, polling the fake Bot API."""
    health_port = free_port()
    volume = f"briefing-check-{uuid.uuid4().hex[:8]}"
    name = f"briefing-check-{uuid.uuid4().hex[:8]}"
    podman("volume", "create", volume)
    try:
        async with FakeBotAPI() as fake:
            env = {
                **environment,
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE_URL": f"{fake.url}/bot",
                "HEALTH_LISTEN": "127.0.0.1",
                "HEALTH_PORT": str(health_port),
            }
            started = podman(
                *SERVE, "-d", f"--name={name}", "--read-only", "--read-only-tmpfs=false",
                "--network=host", f"--volume={volume}:/app/data",
                *[f"--env={key}={value}" for key, value in env.items()], image,
            )  # fmt: skip
            check(started.returncode == 0, f"{label}: the container starts", started.stderr)
            logs = ""
            try:
                await fake.wait_for(lambda f: f.pending_long_polls > 0, timeout=120)
                check(True, f"{label}: polls the fake Bot API")
                fake.push_update(fake.make_message_update("/who Yermak", USER_ID, USER_ID))
                [reply] = await fake.wait_for(lambda f: f.messages_to(USER_ID) or None, 30)
                check("Andriy Yermak" in reply.plain, f"{label}: answers /who Yermak in a chat")
                status = 0
                for _ in range(60):
                    status = await asyncio.to_thread(healthz, health_port)
                    if status == 200:
                        break
                    await asyncio.sleep(0.5)
                check(status == 200, f"{label}: /healthz answers {status}")
                probe = podman("healthcheck", "run", name)
                check(probe.returncode == 0, f"{label}: the image's HEALTHCHECK passes",
                      probe.stdout + probe.stderr)  # fmt: skip
                refused = [c.description for c in fake.calls if c.status not in (200, None)]
                check(not refused, f"{label}: no call refused by the fake", str(refused))
            except AssertionError as error:  # the fake's wait_for timed out
                logs = podman("logs", name).stderr
                raise SmokeError(f"{label}: {error}\n{logs[-3000:]}") from None
            finally:
                logs = podman("logs", name).stderr
                stopped = podman("stop", "--time=20", name)
                code = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
                podman("rm", "-f", name)
            check(stopped.returncode == 0 and code == "0", f"{label}: stops cleanly ({code})",
                  logs[-3000:])  # fmt: skip
            check(fake.token not in logs, f"{label}: the token is not in the logs")
    finally:
        podman("volume", "rm", "-f", volume)


def postgres_urls() -> tuple[str, str]:
    """(admin URL, the check's own database URL) on TEST_POSTGRES_URL's server."""
    url = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    base = url.rsplit("/", 1)[0]
    return url, f"{base}/{CHECK_DB}"


def recreate_database(admin_url: str, *, drop_only: bool = False) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(CHECK_DB)))  # fmt: skip
        if not drop_only:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(CHECK_DB)))


def main(argv: Sequence[str]) -> int:
    image = argv[0]
    admin_url, database_url = postgres_urls()
    try:
        print("the image:")
        the_image(image)
        print("offline:")
        the_console(image)
        no_token(image)
        print("SQLite, on the data volume:")
        asyncio.run(serves(image, "SQLite", {}))
        print("PostgreSQL:")
        recreate_database(admin_url)
        try:
            compose_init(image, {"DATABASE_URL": database_url})
            asyncio.run(serves(image, "PostgreSQL", {"DATABASE_URL": database_url}))
        finally:
            recreate_database(admin_url, drop_only=True)
    except SmokeError as error:
        print(f"image smoke test FAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
