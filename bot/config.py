"""Settings read from the environment or `.env`, validated once at start-up."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.i18n import LANGUAGES, supported

TELEGRAM_API_BASE_URL = "https://api.telegram.org/bot"
_PLACEHOLDERS = {"changeme", "change-me", "your-token-here", "123456:abc", "token"}
_TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{10,}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

# Which event loop the process runs on (bot/transport/runtime.py): auto is uvloop (where
# installed) above the free 30 msg/s, else asyncio's own loop.
EventLoop = Literal["auto", "uvloop", "asyncio"]


class Settings(BaseSettings):
    """Every setting the bot reads; `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = TELEGRAM_API_BASE_URL
    database_url: str = "sqlite:///data/briefing.db"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    default_timezone: str = "UTC"
    # The interface language of readers whose Telegram app is in a language the bot doesn't
    # speak (and of digests to chats that never chose one).
    default_language: str = "en"
    review_required: bool = False
    digest_debounce_seconds: int = Field(default=60, ge=1, le=86_400)
    broadcast_rate: float = Field(default=30.0, gt=0, le=10_000)
    event_loop: EventLoop = "auto"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    health_port: int | None = Field(default=None, ge=0, le=65535)
    health_listen: str = "0.0.0.0"
    developer_chat_id: int | None = None
    # Questions the bot could not answer (their text only) are kept this long for /gaps.
    gaps_retention_days: int = Field(default=90, ge=1, le=3650)
    # Search texts (kept for their paging buttons) and finished digest deliveries (each with
    # its text) are kept this long, then pruned.
    search_retention_days: int = Field(default=30, ge=1, le=3650)
    delivery_retention_days: int = Field(default=30, ge=1, le=3650)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError("ADMIN_IDS must be comma-separated numeric user ids") from None
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _check_token(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        raw = raw.strip()
        if raw.lower() in _PLACEHOLDERS or not _TOKEN_RE.match(raw):
            # Never echo the value: it may be a real token with a typo.
            raise ValueError("TELEGRAM_BOT_TOKEN does not look like a token from @BotFather")
        return raw

    @field_validator("webhook_url", "health_port", "developer_chat_id", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _check_secret(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value):
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if not _SECRET_RE.match(raw):
            raise ValueError("WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -")
        return raw

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        language = supported(value)
        if language is None:
            raise ValueError(f"DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}")
        return language

    @field_validator("default_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"DEFAULT_TIMEZONE {value!r} is not a known time zone") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("DATABASE_URL must be a sqlite:/// or postgresql:// URL")
        if value.startswith("postgres:"):
            value = "postgresql:" + value.removeprefix("postgres:")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("WEBHOOK_URL is set, so WEBHOOK_SECRET is required")
        return self

    @property
    def token(self) -> str | None:
        return self.telegram_bot_token.get_secret_value() if self.telegram_bot_token else None


class SettingsError(Exception):
    """Raised with one human-readable line when the configuration is unusable."""


def load_settings(**overrides: Any) -> Settings:
    """Read settings; turn pydantic's report into one line per problem, without values.

    `overrides` are field values or pydantic-settings' init options (`_env_file=None`), of
    any type: validating them is the point.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False):
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{field.upper()}: {message}" if field != "settings" else message)
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
