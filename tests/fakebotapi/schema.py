"""Every call checked against the Bot API schema (tests/data/botapi/schema.json, Bot API 10.1).

An unknown method is answered 404, a missing or ill-typed parameter 400, as Telegram does. A
parameter Telegram does not know is accepted (Telegram ignores it silently) but remembered:
an option the bot meant to set would be lost, so the fake fails the test when it stops.

Values arrive as PTB sends them: JSON bodies whose values are often strings (numbers,
booleans, and objects as JSON text), so a string that reads as the wanted type passes.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from tests.fakebotapi.records import BotAPIError, UploadedFile

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "botapi" / "schema.json"

Spec = dict[str, list[Any]]  # name -> [allowed types, required]


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


@cache
def methods_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in schema()["methods"]}


def method_name(method: str) -> str | None:
    """The schema's spelling of `method` (method names are case-insensitive), or None."""
    return methods_by_lower_name().get(method.lower())


def _bad_type(path: str, wanted: list[str]) -> BotAPIError:
    return BotAPIError(400, f'Bad Request: field "{path}" must be of type {" or ".join(wanted)}')


def _missing(path: str) -> BotAPIError:
    if path == "chat_id":
        return BotAPIError(400, "Bad Request: chat_id is empty")
    if path == "text":
        return BotAPIError(400, "Bad Request: message text is empty")
    return BotAPIError(400, f'Bad Request: parameter "{path}" is required')


def check_call(method: str, params: dict[str, Any]) -> list[str]:
    """Check `params` of `method` (schema spelling); raise 400 for a missing or ill-typed
    parameter; return the dotted names of parameters and fields Telegram does not know."""
    spec: Spec = schema()["methods"][method]
    unknown: list[str] = []
    _check_fields(spec, params, "", unknown, top=True)
    return unknown


def _check_fields(
    spec: Spec, values: dict[str, Any], prefix: str, unknown: list[str], *, top: bool = False
) -> None:
    for name, (types, required) in spec.items():
        value = values.get(name)
        path = f"{prefix}{name}"
        if value is None or (top and value == ""):
            if required:
                raise _missing(path)
            continue
        _check_value(value, types, path, unknown)
    unknown.extend(f"{prefix}{name}" for name in values if name not in spec)


def _check_value(value: Any, types: list[str], path: str, unknown: list[str]) -> None:
    failure: BotAPIError | None = None
    for wanted in types:
        found: list[str] = []
        try:
            _check_one(value, wanted, path, found)
        except BotAPIError as exc:
            failure = failure or exc
            continue
        unknown.extend(found)
        return
    if len(types) > 1 or failure is None:
        raise _bad_type(path, types)
    raise failure


def _check_one(value: Any, wanted: str, path: str, unknown: list[str]) -> None:
    if wanted.startswith("Array of "):
        items = _decoded(value, list, path, wanted)
        for index, item in enumerate(items):
            _check_value(item, [wanted.removeprefix("Array of ")], f"{path}[{index}]", unknown)
        return
    if wanted == "Integer":
        if isinstance(value, bool) or not _is_integer(value):
            raise _bad_type(path, [wanted])
    elif wanted == "Float":
        if isinstance(value, bool) or not _is_number(value):
            raise _bad_type(path, [wanted])
    elif wanted == "Boolean":
        if not (isinstance(value, bool) or str(value).lower() in {"true", "false", "1", "0"}):
            raise _bad_type(path, [wanted])
    elif wanted == "String":
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise _bad_type(path, [wanted])
    elif wanted == "InputFile":
        if not isinstance(value, UploadedFile | str):
            raise _bad_type(path, [wanted])
    else:
        _check_object(_decoded(value, dict, path, wanted), wanted, path, unknown)


def _check_object(value: dict[str, Any], type_name: str, path: str, unknown: list[str]) -> None:
    spec = schema()["types"].get(type_name)
    if spec is None:
        raise _bad_type(path, [type_name])
    subtypes = spec.get("subtypes")
    if subtypes:
        for subtype in subtypes:
            tag = schema()["types"][subtype].get("tag")
            if tag is None or value.get(tag[0]) == tag[1]:
                _check_object(value, subtype, path, unknown)
                return
        raise BotAPIError(400, f'Bad Request: can\'t parse {path}: unknown "{type_name}" kind')
    fields = spec.get("fields", {})
    if fields:
        _check_fields(fields, value, f"{path}.", unknown)


def _decoded(value: Any, kind: type, path: str, wanted: str) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise BotAPIError(400, f"Bad Request: can't parse {path} JSON object") from None
    if not isinstance(value, kind):
        raise _bad_type(path, [wanted])
    return value


def _is_integer(value: Any) -> bool:
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, str):
        try:
            int(value)
        except ValueError:
            return False
        return True
    return False


def _is_number(value: Any) -> bool:
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False
