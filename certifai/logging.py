"""Structured logs: which request or task each line belongs to, as plain text or as one JSON object a line.

- `context`: the request id (certifai.middleware.RequestIdMiddleware) and the Celery task id and name
  (task_prerun / task_postrun below) of the code running now, in context variables, so they follow each thread
  of gunicorn and each task of a worker without being passed around.
- `ContextFilter`: puts `request_id`, `task_id` and `task_name` on every record a handler sees (None when unset).
- `JsonFormatter` (CERTIFAI_LOG_FORMAT=json, as in docker-compose.yml) and `PlainFormatter` (the default, for
  `make run`): both show those ids.
- A task queued while a request is served carries the request's id in a message header, so the worker's lines
  about that task name the request that caused it.
- A Celery worker or beat replaces the root logger's handlers with its own: they get the same filter and, for
  JSON, the same formatter, and the RedactingFilter of trackers/redaction.py.

Standard library only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("certifai_request_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("certifai_task_id", default=None)
task_name_var: ContextVar[str | None] = ContextVar("certifai_task_name", default=None)

REQUEST_ID_HEADER = "certifai_request_id"  # Celery message header carrying the id of the request that queued it
# An incoming X-Request-ID is kept when it looks like an id (a UUID, a proxy's or load balancer's trace id);
# anything else (too long, spaces, quotes, control characters) is replaced, so it can't forge or break log lines.
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+=/-]{0,127}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    return value if value and _SANE_ID.match(value) else None


def current_ids() -> dict[str, str | None]:
    return {"request_id": request_id_var.get(), "task_id": task_id_var.get(), "task_name": task_name_var.get()}


class ContextFilter(logging.Filter):
    """Adds request_id, task_id and task_name to every record (values a record already has are kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_ids().items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


# LogRecord attributes that are not "extra" fields passed by the caller.
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "request_id", "task_id", "task_name", "context",
}


def _jsonable(value: Any) -> Any:
    """`value` as JSON types, its strings redacted: the RedactingFilter cleans the message, not the extras."""
    if isinstance(value, str):
        from trackers.redaction import redact

        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return _jsonable(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, process, the request and task ids
    when set, the exception and stack text, and whatever the caller passed as `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.processName and record.processName != "MainProcess":
            entry["process_name"] = record.processName
        ids = {name: getattr(record, name, None) for name in ("request_id", "task_id", "task_name")}
        if all(value is None for value in ids.values()):
            ids = current_ids()  # a handler without the ContextFilter
        entry.update({name: value for name, value in ids.items() if value is not None})
        # The RedactingFilter replaces exc_info by its redacted text (exc_text): prefer that text.
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        elif record.exc_info and record.exc_info[0] is not None:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_") and key not in entry:
                entry[key] = _jsonable(value)
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """`time LEVEL logger [request=… task=name[id]]: message`, the bracket only when there is an id."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: str = "%", **kwargs: Any):
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s", datefmt, style,
                         **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        ids = {name: getattr(record, name, None) for name in ("request_id", "task_id", "task_name")}
        if all(value is None for value in ids.values()):
            ids = current_ids()
        parts = []
        if ids["request_id"]:
            parts.append(f"request={ids['request_id']}")
        if ids["task_id"]:
            parts.append(f"task={ids['task_name'] or '?'}[{ids['task_id']}]")
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return super().format(record)


def log_format() -> str:
    return "json" if os.environ.get("CERTIFAI_LOG_FORMAT", "").strip().lower() == "json" else "plain"


def install(handlers) -> None:
    """Put a ContextFilter on each handler that has none, and the JSON formatter when logs are JSON."""
    for handler in handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
        if log_format() == "json" and not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())


# --- Celery: task ids in the context, the request id carried in the message --------------------------

_task_tokens: dict[str, tuple[Token, Token, Token | None]] = {}


def _before_task_publish(headers: dict | None = None, **kwargs: object) -> None:
    request_id = request_id_var.get()
    if request_id and isinstance(headers, dict) and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = request_id


def _task_request_id(task: Any) -> str | None:
    request = getattr(task, "request", None)
    value = getattr(request, REQUEST_ID_HEADER, None)
    if value is None:
        headers = getattr(request, "headers", None)
        if isinstance(headers, dict):
            value = headers.get(REQUEST_ID_HEADER)
    return sane_request_id(value) if isinstance(value, str) else None


def _task_prerun(task_id: str | None = None, task: Any = None, **kwargs: object) -> None:
    if not task_id:
        return
    request_id = _task_request_id(task)
    _task_tokens[task_id] = (
        task_id_var.set(task_id),
        task_name_var.set(getattr(task, "name", None)),
        request_id_var.set(request_id) if request_id else None,
    )


def _task_postrun(task_id: str | None = None, **kwargs: object) -> None:
    tokens = _task_tokens.pop(task_id or "", None)
    if tokens is None:
        return
    task_token, name_token, request_token = tokens
    for var, token in ((request_id_var, request_token), (task_name_var, name_token), (task_id_var, task_token)):
        if token is not None:
            try:
                var.reset(token)
            except ValueError:  # set in another context (a thread pool): just clear it
                var.set(None)


def _on_celery_logging(logger: logging.Logger | None = None, **kwargs: object) -> None:
    """A Celery worker replaces the root logger's handlers with its own: give them the context (ids, JSON)
    and the redaction of credentials (trackers/redaction.py) that settings.LOGGING gives the others."""
    from trackers import redaction

    for handlers in ((logger.handlers if logger is not None else []), logging.getLogger().handlers):
        redaction.install(handlers)
        install(handlers)


try:  # Celery is a dependency of the project, but this module doesn't need it
    from celery import signals as _celery_signals
except ImportError:  # pragma: no cover
    pass
else:
    _celery_signals.before_task_publish.connect(_before_task_publish, weak=False)
    _celery_signals.task_prerun.connect(_task_prerun, weak=False)
    _celery_signals.task_postrun.connect(_task_postrun, weak=False)
    _celery_signals.after_setup_logger.connect(_on_celery_logging, weak=False)
    _celery_signals.after_setup_task_logger.connect(_on_celery_logging, weak=False)


__all__ = [
    "ContextFilter", "JsonFormatter", "PlainFormatter", "current_ids", "install", "log_format", "new_request_id",
    "request_id_var", "sane_request_id", "task_id_var", "task_name_var",
]
