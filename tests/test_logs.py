"""The JSON log lines: one object per record, with the call's ``extra`` fields and nothing of
the terminal-only extras other libraries attach."""

from __future__ import annotations

import json
import logging

from jobqueue.logs import JsonFormatter


def _line(**extra: object) -> dict[str, object]:
    record = logging.makeLogRecord(
        {"name": "jobqueue.test", "levelname": "INFO", "msg": "hello %s", "args": ("world",)}
    )
    for key, value in extra.items():
        setattr(record, key, value)
    return dict(json.loads(JsonFormatter().format(record)))


def test_extra_fields_are_kept_and_uvicorn_colour_copy_is_dropped() -> None:
    line = _line(job="orders", msg_id=7, color_message="\x1b[36mhello\x1b[0m")
    assert line["msg"] == "hello world" and line["level"] == "info"
    assert line["job"] == "orders" and line["msg_id"] == 7
    assert "color_message" not in line
