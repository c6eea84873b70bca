"""Logging: one line per event, text or JSON, with the bot token redacted everywhere."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

# A Bot API token anywhere in a message: in URLs (/bot123:ABC/...) or on its own.
_TOKEN_RE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")


class RedactingFilter(logging.Filter):
    """Replaces the configured token (and anything shaped like a token) before output."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[REDACTED]")
        return _TOKEN_RE.sub("[REDACTED]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("update_id", "chat_id", "user_id", "command"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str, fmt: str, secrets: list[str]) -> RedactingFilter:
    """Install one handler on the root logger; quiet chatty HTTP loggers that print URLs."""
    redactor = RedactingFilter(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(redactor)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO, and the URL contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return redactor
