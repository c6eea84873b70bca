"""`python -m bot` / `briefing-bot`: settings -> engine -> application -> polling or webhook.

Sub-commands: run (default), console, load PATH, export [PATH], migrate.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine
from telegram import Update

from bot.config import Settings, SettingsError, load_settings
from bot.logging_setup import configure_logging
from knowledge.storage.database import make_engine, session_scope
from knowledge.storage.migrations import migrate, schema_is_current
from knowledge.write.importer import BriefingError, export_briefing, import_file, prepare_database

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="briefing-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (polling, or webhook when WEBHOOK_URL is set)")
    console = sub.add_parser("console", help="chat with the bot offline in this terminal")
    console.add_argument(
        "--owner", action="store_true", help="with an owner's rights, to try curation"
    )
    load = sub.add_parser("load", help="load (or update) a curated briefing YAML file")
    load.add_argument("path", type=Path)
    export = sub.add_parser("export", help="write the knowledge base as YAML")
    export.add_argument("path", type=Path, nargs="?")
    sub.add_parser("migrate", help="upgrade the database schema and exit")
    propose = sub.add_parser(
        "propose", help="propose entries from a briefing's text (.txt, .md, .html) as YAML"
    )
    propose.add_argument("path", type=Path)
    propose.add_argument("--source", required=True, help="the source the briefing comes from")
    propose.add_argument("--date", help="the briefing's date (YYYY-MM-DD), for 'last week'")
    propose.add_argument("--output", type=Path, help="the YAML file to write (else stdout)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # No sub-command: the bot with a token, the offline console without one (`make run`).
    # An explicit `run` without a token is an error, so a container never idles in a console.
    command = args.command or "run"
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"briefing-bot: {exc}", file=sys.stderr)
        return 2
    if args.command == "run" and not settings.token:
        print(
            "briefing-bot: TELEGRAM_BOT_TOKEN is not set; set it to the token from @BotFather, "
            "or use `console` to try the bot offline",
            file=sys.stderr,
        )
        return 2
    secrets = [settings.token or ""]
    if settings.webhook_secret:
        secrets.append(settings.webhook_secret.get_secret_value())
    configure_logging(settings.log_level, settings.log_format, secrets)
    engine = make_engine(settings.database_url)

    if command == "migrate":
        migrate(engine)
        print("database schema is current")
        return 0
    if command == "load":
        prepare_database(engine, bundled=None)
        try:
            with session_scope(engine) as session:
                summary = import_file(session, args.path)
        except BriefingError as exc:
            for error in exc.errors:
                print(error, file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"briefing-bot: cannot read {args.path}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"{args.path.name}: {summary.line()}")
        return 0
    if command == "export":
        prepare_database(engine)
        with session_scope(engine) as session:
            text = export_briefing(session)
        if args.path:
            args.path.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return 0

    if command == "propose":
        prepare_database(engine)
        return propose_file(engine, args.path, args.source, args.date, args.output)

    if command in ("run", "console"):
        migrate_apart(engine)
    if prepare_database(engine):
        log.info("empty database: loaded the bundled briefing")
    if command == "console" or not settings.token:
        from bot.console import run_console

        if command != "console":
            print("No TELEGRAM_BOT_TOKEN is set: opening the offline console.\n", file=sys.stderr)
        return run_console(settings, engine, owner=bool(getattr(args, "owner", False)))
    return run_bot(settings, engine)


def propose_file(
    engine: Engine, path: Path, source: str, when: str | None, output: Path | None
) -> int:
    """`briefing-bot propose FILE --source NAME`: the proposals as YAML, nothing written to
    the knowledge base."""
    from datetime import date

    from knowledge.language.documents import DocumentError, document_text
    from knowledge.storage.database import read_scope
    from knowledge.write.proposals.extract import propose
    from knowledge.write.proposals.model import Origin
    from knowledge.write.proposals.yaml_file import batch_yaml

    try:
        published = date.fromisoformat(when) if when else None
        text = document_text(path.read_bytes(), path.name)
    except (DocumentError, ValueError) as exc:
        print(f"briefing-bot: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"briefing-bot: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    with read_scope(engine) as session:
        batch = propose(session, text, Origin(source, published=published))
        result = batch_yaml(session, batch)
    if output:
        output.write_text(result, encoding="utf-8")
        found = f"{len(batch.events)} events, {len(batch.actors)} new actors"
        print(f"{path.name}: {found} -> {output}")
    else:
        sys.stdout.write(result)
    return 0


def migrate_apart(engine: Engine) -> None:
    """Upgrade the schema in a short-lived child process (`briefing-bot migrate`), if due.

    Alembic, once imported, stays in the process for good: about 9 MB of the bot's idle
    budget of 100 MB, for something done once per upgrade. The child reads the same settings
    (environment, `.env`). Should it fail, the in-process migration that follows runs anyway
    and reports the error itself. An in-memory database can only be migrated in-process.
    The console starts the same way, which also keeps Alembic's log lines off its screen.
    """
    if engine.url.database in (None, "", ":memory:") or schema_is_current(engine):
        return
    log.info("upgrading the database schema")
    child = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"], capture_output=True, text=True, check=False
    )
    if child.returncode != 0:
        log.warning("schema upgrade in a child process failed (exit %s)", child.returncode)


def run_bot(settings: Settings, engine: Engine) -> int:
    from bot.app import build_application
    from bot.transport.runtime import settle_after_start, use_loop

    use_loop(settings.event_loop, settings.broadcast_rate)
    application = build_application(settings, engine)
    settle_after_start()
    if settings.webhook_url:
        from bot.transport.webhook import run_webhook

        run_webhook(application, settings)
    else:
        log.info("starting long polling")
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
