"""The logging filter that keeps credentials out of the logs (trackers/redaction.py), and its wiring."""

from __future__ import annotations

import io
import logging

import pytest
from django.conf import settings

from trackers import redaction
from trackers.redaction import REDACTED, RedactingFilter, redact


@pytest.mark.parametrize(("text", "secret"), [
    ("{'Authorization': 'Bearer abcdef0123456789', 'Accept': 'json'}", "abcdef0123456789"),
    ("{'Authorization': 'token 0123456789abcdef0123456789abcdef01234567'}", "0123456789abcdef0123456789abcdef"),
    ('{"PRIVATE-TOKEN": "glpat-TOPSECRET-4f9c2a7d1e"}', "TOPSECRET"),
    ("PRIVATE-TOKEN: s3cr3t-value-here\r\nAccept: */*", "s3cr3t-value-here"),
    ("Authorization: Basic Ym90QGV4YW1wbGUuY29tOmppcmEtdG9rZW4=", "Ym90QGV4YW1wbGUuY29tOmppcmEtdG9rZW4="),
    ("GET https://gitea.example/api/v1/user?token=abc123secret&limit=5", "abc123secret"),
    ("https://gitlab.example/api/v4/projects?private_token=glpat-xyz&x=1", "glpat-xyz"),
    ("POST /oauth?access_token=zzz-secret-zzz HTTP/1.1", "zzz-secret-zzz"),
    ("request failed: Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "eyJhbGciOi"),
    ("sent with token 9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d", "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"),
    ("https://bob:hunter2hunter2@jira.example/rest/api/2/myself", "hunter2hunter2"),
    ('{"token": "plain-value", "password": "p@ssw0rd"}', "plain-value"),
    ("leaked ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 in a body", "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    ("leaked github_pat_11AAAAAA0abcdefghijklmnopqrstuv in a body", "github_pat_11AAAAAA0abcdefghijklmnopqrstuv"),
])
def test_credentials_are_redacted(text, secret):
    cleaned = redact(text)
    assert secret not in cleaned and REDACTED in cleaned


@pytest.mark.parametrize("text", [
    "GitHub rejected the token (401 Bad credentials): create a new token with the Issues permission.",
    "the token expired yesterday", "tracker sync of repository 3 paused", "Authorization required",
])
def test_ordinary_text_is_left_alone(text):
    assert redact(text) == text


def test_remembered_tokens_are_redacted_wherever_they_appear():
    redaction.remember("zq-remembered-7788-tok")
    try:
        assert redact("the server said: invalid zq-remembered-7788-tok!") == f"the server said: invalid {REDACTED}!"
        assert "zq-remembered" not in redact("url ?x=zq-remembered-7788-tok")
    finally:
        redaction.forget_all()


def log_through_filter(*args, exc: BaseException | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.redaction.sample")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        if exc is not None:
            try:
                raise exc
            except BaseException:
                logger.exception(*args)
        else:
            logger.debug(*args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_the_filter_redacts_messages_arguments_and_exceptions():
    out = log_through_filter("headers %s", {"Authorization": "Bearer abcdef0123456789"})
    assert "abcdef0123456789" not in out and REDACTED in out
    error = RuntimeError("401 url: https://x/api?token=qq-secret-qq headers={'PRIVATE-TOKEN': 'pp-secret-pp'}")
    out = log_through_filter("call failed", exc=error)
    assert "qq-secret-qq" not in out and "pp-secret-pp" not in out and "Traceback" in out and "RuntimeError" in out


def test_the_filter_is_on_the_root_handler():
    assert settings.LOGGING["filters"]["redact_secrets"]["()"] == "trackers.redaction.RedactingFilter"
    for name in settings.LOGGING["root"]["handlers"]:
        assert "redact_secrets" in settings.LOGGING["handlers"][name]["filters"]
    root_filters = [f for h in logging.getLogger().handlers for f in h.filters]
    assert any(isinstance(f, RedactingFilter) for f in root_filters)


def test_a_celery_worker_keeps_the_filter_on_its_own_handlers():
    from celery import signals

    handler = logging.StreamHandler(io.StringIO())
    logger = logging.getLogger("tests.redaction.celery")
    logger.addHandler(handler)
    try:
        signals.after_setup_logger.send(sender=None, logger=logger, loglevel=logging.INFO, logfile=None,
                                        format="", colorize=False)
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
    finally:
        logger.removeHandler(handler)
