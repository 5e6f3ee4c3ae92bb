"""Tokens never reach the logs: a logging filter that redacts credentials from messages and exception text.

Tracker client exceptions and debug logs carry URLs, request and response headers and bodies. The adapters
rebuild every error in their own words and never log a token, and this filter is the net under them: installed
on the root handler in settings.LOGGING (and, through certifai/logging.py, on the handlers a Celery worker puts
in place of it), it rewrites each record's message, exception text and stack before any handler formats it:

- header values: Authorization, Proxy-Authorization, PRIVATE-TOKEN, JOB-TOKEN, X-Gitlab-Token, X-API-Key,
  Cookie, Set-Cookie (in `Name: value` and in dict-repr `'Name': 'value'` forms);
- credentials: `Basic …`, `Bearer …`, `token …` (Gitea), `Token …`;
- query and form values: token=, access_token=, private_token=, api_key=, password=, client_secret=, …;
  JSON and dict-repr values of those keys;
- the password of a URL's userinfo (https://user:PASSWORD@host);
- token shapes of the trackers (ghp_…, github_pat_…, glpat-…);
- and the exact tracker tokens this process has decrypted (`remember`), wherever they appear.

Pure Python: no Django.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections import OrderedDict
from collections.abc import Iterable
from urllib.parse import quote

REDACTED = "[REDACTED]"

_HEADER_NAMES = (r"(?:proxy-)?authorization|private-token|job-token|x-gitlab-token|x-api-key|x-auth-token|"
                 r"cookie|set-cookie")
_KEY_NAMES = (r"access_token|private_token|refresh_token|id_token|token|api_key|apikey|api-key|client_secret|"
              r"password|passwd|secret|signature|sig")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # 'Authorization': 'Bearer abc'  /  "PRIVATE-TOKEN": "abc"  (dict reprs and JSON)
    (re.compile(rf"""(?i)(['"](?:{_HEADER_NAMES})['"]\s*:\s*)(['"])(?:(?!\2).)*\2"""), rf"\1\2{REDACTED}\2"),
    # Authorization: Bearer abc  (HTTP dumps; up to the end of the line)
    (re.compile(rf"(?im)(\b(?:{_HEADER_NAMES})\s*:\s*)(?!\s*['\"])[^\r\n]+"), rf"\1{REDACTED}"),
    # "token": "abc", 'password': 'abc'
    (re.compile(rf"""(?i)(['"](?:{_KEY_NAMES})['"]\s*:\s*)(['"])(?:(?!\2).)*\2"""), rf"\1\2{REDACTED}\2"),
    # ?token=abc&access_token=abc, private_token=abc in a form body
    (re.compile(rf"(?i)((?:^|[?&;\s,(])(?:{_KEY_NAMES})=)[^&\s'\"#;,)]+"), rf"\1{REDACTED}"),
    # Basic dXNlcjpwYXNz, Bearer abc.def, token 0123abcd… (Gitea), Token abc (DRF)
    (re.compile(r"(?i)(\b(?:basic|bearer)\s+)[A-Za-z0-9._~+/=-]{6,}"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)(\btoken\s+)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{16,}"), rf"\1{REDACTED}"),
    # https://user:password@host
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]*:)[^/\s@'\"]+@"), rf"\1{REDACTED}@"),
    # token shapes: GitHub (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_), GitLab (glpat-, gldt-, glrt-, ...)
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|gl[a-z]{2,4}-[A-Za-z0-9_-]{16,})"),
     REDACTED),
)

_MAX_REMEMBERED = 512  # distinct tokens a process has decrypted; each costs a scan of every record
_MIN_REMEMBERED_LENGTH = 6  # shorter "tokens" would redact ordinary words
_remembered: OrderedDict[str, None] = OrderedDict()
_longest_first: tuple[str, ...] = ()  # _remembered, longest first (a token containing another is replaced whole)
_lock = threading.Lock()


def remember(*secrets: str) -> None:
    """Redact these exact values from now on (tracker tokens as they are decrypted). Bounded, newest kept."""
    global _longest_first
    with _lock:
        for secret in secrets:
            if not secret or len(secret) < _MIN_REMEMBERED_LENGTH:
                continue
            for form in {secret, quote(secret, safe="")}:
                _remembered[form] = None
                _remembered.move_to_end(form)
        while len(_remembered) > _MAX_REMEMBERED:
            _remembered.popitem(last=False)
        _longest_first = tuple(sorted(_remembered, key=len, reverse=True))


def forget_all() -> None:
    global _longest_first
    with _lock:
        _remembered.clear()
        _longest_first = ()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every credential it holds replaced by [REDACTED]."""
    if not text:
        return text
    known = _longest_first
    extra = tuple(s for s in secrets if s)
    if extra:
        known = tuple(sorted({*known, *extra}, key=len, reverse=True))
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Redacts credentials from a record's message, exception text and stack before a handler formats it.

    The record is rewritten in place (message formatted with its arguments; the exception replaced by its
    redacted text), so every handler after this one, and every formatter, only sees the redacted record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report  # noqa: BLE001
            message = None
        if message is not None:
            cleaned = redact(message)
            if cleaned != message or record.args:
                record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(text)
            record.exc_info = None  # the exception object keeps its unredacted text: don't hand it on
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(handlers: Iterable[logging.Handler]) -> None:
    """Put a RedactingFilter on each handler that has none."""
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


__all__ = ["REDACTED", "RedactingFilter", "forget_all", "install", "redact", "remember"]
