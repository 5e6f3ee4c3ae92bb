"""Structured logs: request ids (middleware), task ids (Celery signals), the JSON formatter, and the settings
that put them together with the RedactingFilter."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import shared_task
from django.conf import settings
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path

from certifai import logging as certifai_logging
from certifai.logging import ContextFilter, JsonFormatter, PlainFormatter, request_id_var, task_id_var
from trackers.redaction import RedactingFilter

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("certifai.tests.logging")


def logged_view(request):
    log.warning("inside the view")
    from issues.tasks import sync_repository  # queued from a request: the task header carries the request id

    sync_repository.delay(0)
    return HttpResponse("ok")


urlpatterns = [path("logged/", logged_view)]


@pytest.fixture
def captured():
    """A handler built like settings.LOGGING's console handler, JSON, writing to a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous_level)


def test_settings_put_redaction_and_context_on_the_console_handler():
    handler = settings.LOGGING["handlers"]["console"]
    assert handler["filters"] == ["redact_secrets", "context"]
    assert settings.LOGGING["filters"]["redact_secrets"]["()"] == "trackers.redaction.RedactingFilter"
    assert settings.LOGGING["filters"]["context"]["()"] == "certifai.logging.ContextFilter"
    assert handler["formatter"] == "plain"  # the default; CERTIFAI_LOG_FORMAT=json picks "json"
    assert settings.LOGGING["formatters"]["json"]["()"] == "certifai.logging.JsonFormatter"
    assert settings.MIDDLEWARE[0] == "certifai.middleware.RequestIdMiddleware"


def test_json_formatter_writes_one_object_a_line_with_the_ids(captured):
    token = request_id_var.set("req-123")
    try:
        log.info("scan %s imported", 7, extra={"scan_id": 7, "tags": ("a", "b")})
    finally:
        request_id_var.reset(token)
    [entry] = captured()
    assert entry["message"] == "scan 7 imported" and entry["level"] == "INFO"
    assert entry["logger"] == "certifai.tests.logging" and entry["request_id"] == "req-123"
    assert entry["scan_id"] == 7 and entry["tags"] == ["a", "b"]
    assert entry["time"].endswith("Z") and "task_id" not in entry


def test_json_lines_are_redacted_exceptions_included(captured):
    try:
        raise RuntimeError("call failed with Authorization: Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789")
    except RuntimeError:
        log.exception("tracker said no to token=supersecretvalue", extra={"url": "https://x/?private_token=abc123"})
    [entry] = captured()
    text = json.dumps(entry)
    assert "supersecretvalue" not in text and "ghp_abcdef" not in text and "abc123" not in text
    assert "[REDACTED]" in entry["message"] and "[REDACTED]" in entry["url"]
    assert "RuntimeError" in entry["exc_info"] and "[REDACTED]" in entry["exc_info"]


def test_plain_formatter_shows_the_ids_when_there_are_some():
    formatter = PlainFormatter()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    assert formatter.format(record).endswith(" INFO x: hello")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    record.request_id, record.task_id, record.task_name = "r1", "t1", "issues.retry_due"
    assert formatter.format(record).endswith(" INFO x [request=r1 task=issues.retry_due[t1]]: hello")


@pytest.mark.parametrize("incoming, kept", [
    ("3f2a9c1e-8d4b-4c7a-9e1f-0a1b2c3d4e5f", True),
    ("Root=1-67891233-abcdef012345678912345678", True),  # an AWS load balancer's trace id
    ("has spaces", False),
    ('quote"injection', False),
    ("x" * 129, False),
    ("line\nbreak", False),
    ("", False),
])
def test_request_id_is_honoured_only_when_sane(client, incoming, kept):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)
    returned = response["X-Request-ID"]
    assert (returned == incoming) is kept
    assert certifai_logging.sane_request_id(returned)


def test_a_new_request_id_for_each_request(client):
    first, second = client.get("/healthz")["X-Request-ID"], client.get("/healthz")["X-Request-ID"]
    assert first != second and len(first) == 32
    assert request_id_var.get() is None  # reset after the request


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_every_line_of_a_request_and_its_tasks_names_the_request(client, captured):
    seen_in_task: list = []

    from celery.signals import task_prerun

    def spy(task=None, **kwargs):
        seen_in_task.append((request_id_var.get(), task_id_var.get(), getattr(task, "name", None)))

    task_prerun.connect(spy, weak=False)
    try:
        response = client.get("/logged/", HTTP_X_REQUEST_ID="abc-123")
    finally:
        task_prerun.disconnect(spy)
    assert response["X-Request-ID"] == "abc-123"
    entries = captured()
    view_line = next(e for e in entries if e["message"] == "inside the view")
    assert view_line["request_id"] == "abc-123"
    access_line = next(e for e in entries if e["logger"] == "certifai.request")
    assert access_line["request_id"] == "abc-123" and access_line["status"] == 200 and access_line["path"] == \
        "/logged/" and access_line["duration_ms"] >= 0
    # The eager task ran inside the request: its lines name the request and the task.
    assert seen_in_task and seen_in_task[0][0] == "abc-123" and seen_in_task[0][2] == "issues.sync_repository"
    assert seen_in_task[0][1]


@shared_task(name="tests.production.log_something")
def log_something():
    log.warning("from the task")
    return task_id_var.get()


def test_task_ids_come_from_celery_signals_and_are_reset_after(captured):
    result = log_something.apply()
    [entry] = [e for e in captured() if e["message"] == "from the task"]
    assert entry["task_id"] == result.id == result.result
    assert entry["task_name"] == "tests.production.log_something"
    assert task_id_var.get() is None and certifai_logging.task_name_var.get() is None


def test_a_published_task_carries_the_request_id_in_its_headers():
    headers: dict = {}
    token = request_id_var.set("req-9")
    try:
        certifai_logging._before_task_publish(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers == {"certifai_request_id": "req-9"}

    class Request:
        certifai_request_id = "req-9"

    class Task:
        name = "issues.sync_repository"
        request = Request()

    certifai_logging._task_prerun(task_id="t-1", task=Task())
    try:
        assert certifai_logging.current_ids() == {"request_id": "req-9", "task_id": "t-1",
                                                  "task_name": "issues.sync_repository"}
    finally:
        certifai_logging._task_postrun(task_id="t-1")
    assert certifai_logging.current_ids() == {"request_id": None, "task_id": None, "task_name": None}


def test_a_celery_workers_own_handlers_get_the_filter_and_json(monkeypatch):
    """A worker replaces the root logger's handlers with its own (after_setup_logger): they get the context
    filter, the RedactingFilter and, with CERTIFAI_LOG_FORMAT=json, the JSON formatter."""
    monkeypatch.setenv("CERTIFAI_LOG_FORMAT", "json")
    handler = logging.StreamHandler(io.StringIO())
    logger = logging.getLogger("certifai.tests.celery-like")
    logger.addHandler(handler)
    root_state = [(h, h.formatter, list(h.filters)) for h in logging.getLogger().handlers]
    try:
        from celery.signals import after_setup_logger

        after_setup_logger.send(sender=None, logger=logger, loglevel=logging.INFO, logfile=None, format="",
                                colorize=False)
        assert any(isinstance(f, ContextFilter) for f in handler.filters)
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
        assert isinstance(handler.formatter, JsonFormatter)
    finally:
        logger.removeHandler(handler)
        for root_handler, formatter, filters in root_state:  # the hook visits the root's handlers too
            root_handler.setFormatter(formatter)
            root_handler.filters[:] = filters


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "certifai.settings", **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,  # noqa: S603
                          capture_output=True, text=True, timeout=60)


def test_certifai_log_format_json_gives_json_lines_from_the_settings():
    code = ("import django, logging; django.setup(); "
            "logging.getLogger('certifai.x').warning('hello Authorization: Bearer abcdefghijklmnop')")
    result = _run_python(code, CERTIFAI_LOG_FORMAT="json")
    entry = json.loads(result.stderr.strip().splitlines()[-1])
    assert entry["message"] == "hello Authorization: [REDACTED]" and entry["logger"] == "certifai.x"
    plain = _run_python(code, CERTIFAI_LOG_FORMAT="")
    assert plain.stderr.strip().endswith("WARNING certifai.x: hello Authorization: [REDACTED]")
