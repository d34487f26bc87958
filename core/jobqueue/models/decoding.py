"""Decoding request bodies into wire models, with errors that name the field and the reason."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from jobqueue.errors import InvalidInput

T = TypeVar("T")

_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_NAMED = re.compile(r"^Object (?:missing required|contains unknown) field `(?P<name>.+)`$")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def split_validation_error(text: str) -> tuple[str, str]:
    """Turn msgspec's ``"Expected `int`, got `str` - at `$.msgs[0].id`"`` into (field, reason)."""
    match = _AT.match(text)
    assert match is not None  # the pattern matches any string
    reason = match.group("reason")
    path = (match.group("path") or "").lstrip(".")
    named = _NAMED.match(reason)
    if named:
        path = _join(path, named.group("name"))
        reason = "missing required field" if "missing" in reason else "unknown field"
    return path, reason


def decode_json(body: bytes, type_: type[T], *, prefix: str = "") -> T:
    """Decode JSON ``body`` into ``type_`` or raise `InvalidInput` naming the field."""
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        field, reason = split_validation_error(str(exc))
        raise InvalidInput(_join(prefix, field) if field else prefix, reason) from None
    except msgspec.DecodeError as exc:
        detail = str(exc).removeprefix("JSON is malformed: ")
        raise InvalidInput(prefix, f"malformed JSON: {detail}") from None
    except RecursionError:
        # msgspec stops at the interpreter's recursion limit (~1000 levels): a bad request,
        # not a server error.
        raise InvalidInput(prefix, "JSON nested too deeply") from None


def convert(data: Any, type_: type[T], *, prefix: str = "") -> T:
    """Like `decode_json` for already-parsed builtins (e.g. YAML files)."""
    # Through JSON rather than msgspec.convert: `msgspec.Raw` fields (Message.data) can only
    # be decoded from JSON text, and this keeps both paths' rules and errors identical.
    try:
        body = msgspec.json.encode(data)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInput(prefix, f"not representable as JSON: {exc}") from None
    return decode_json(body, type_, prefix=prefix)
