"""Streaming importer for semgrep's JSON output (``semgrep --json``).

The output is ``{"version": ..., "results": [...], "errors": [...], "paths": {"scanned": [...]}, ...}`` (old versions
have only ``results`` and ``errors``); each result has ``check_id``, ``path``, ``start``/``end`` ({line, col, offset})
and ``extra`` with ``message``, ``severity``, ``metadata``, ``lines``, ``fingerprint`` and ``is_ignored``.

* severity: a usable ``extra.metadata['security-severity']`` first (as for SARIF); else ``extra.severity``:
  ERROR -> high, WARNING -> medium, INFO -> low, and the newer CRITICAL / HIGH / MEDIUM / LOW as themselves;
  INVENTORY / EXPERIMENT -> info; an unknown word -> medium (semgrep adds levels now and then; a new one must not
  make a scan unreadable).
* ``extra.is_ignored`` true (a ``nosemgrep`` comment, with --include-nosemgrep) -> skipped.
* ``lines`` and ``fingerprint`` are the literal 'requires login' when logged out: then no snippet / no fingerprint.
* rule_title is the last dotted segment of check_id ('formatted-sql-query'); help_uri is metadata.shortlink, else
  metadata.source, else the first of metadata.references.

Two passes, as for bandit: the constructor checks the file and collects ``errors``; :meth:`findings` converts.
"""

from __future__ import annotations

from typing import Any

from findings.importers.base import ParsedFinding, ScanFormatError
from findings.importers.flat import FlatReport, add_plain_path
from findings.importers.sarif import (
    At,
    CommonDir,
    JsonStream,
    check_line,
    got,
    make_finding,
    security_severity,
    truncate_snippet,
)
from findings.importers.sarif import typed as _typed

_SEVERITY = {
    "ERROR": "high",
    "WARNING": "medium",
    "INFO": "low",
    "CRITICAL": "critical",
    "HIGH": "high",
    "MEDIUM": "medium",
    "LOW": "low",
    "INVENTORY": "info",
    "EXPERIMENT": "info",
}
_LOGGED_OUT = "requires login"


class SemgrepScan(FlatReport):
    """A semgrep JSON report. ``tools`` is ['semgrep']; semgrep's ``errors`` (files or rules it could not handle)
    are listed in ``problems``."""

    format = "semgrep"
    tool = "semgrep"
    path_field = "path"

    def error_line(self, error: dict) -> str:
        text = error.get("message") or error.get("type") or ""
        return f"{error.get('level', 'error')}: {str(text)[:500]}"

    def read_member(self, stream: JsonStream, key: str, common: CommonDir) -> bool:
        if key != "paths":
            return False
        paths = stream.read("paths", 2)
        if type(paths) is dict and type(paths.get("scanned")) is list:
            for name in paths["scanned"]:
                add_plain_path(common, name)
        return True

    def convert(self, result: Any, path: At) -> ParsedFinding | None:
        if type(result) is not dict:
            raise ScanFormatError(f"{path()}: expected an object, got {got(result)}")
        check_id = _typed(result, "check_id", str, path, required=True)
        file_name = _typed(result, "path", str, path, required=True)
        extra = _typed(result, "extra", dict, path) or {}
        extra_path = At(path, "extra")
        if extra.get("is_ignored") is True:
            return None
        start = _typed(result, "start", dict, path) or {}
        end = _typed(result, "end", dict, path) or {}
        line = check_line(_typed(start, "line", int, At(path, "start")), At(At(path, "start"), "line"))
        end_line = check_line(_typed(end, "line", int, At(path, "end")), At(At(path, "end"), "line"))
        if line is not None and line < 1:
            line = None
        if line is None or end_line is None or end_line < line:
            end_line = line
        metadata = _typed(extra, "metadata", dict, extra_path) or {}
        severity = security_severity(metadata.get("security-severity"))
        if severity is None:
            word = _typed(extra, "severity", str, extra_path)
            severity = _SEVERITY.get(word.upper(), "medium") if word else "medium"
        lines = _typed(extra, "lines", str, extra_path) or ""
        fingerprint = _typed(extra, "fingerprint", str, extra_path)
        help_uri = metadata.get("shortlink") or metadata.get("source") or ""
        references = metadata.get("references")
        if not help_uri and type(references) is list and references and type(references[0]) is str:
            help_uri = references[0]
        return make_finding(
            "semgrep",
            check_id,
            check_id.rsplit(".", 1)[-1],
            severity,
            _typed(extra, "message", str, extra_path) or "",
            self.paths.resolve_plain(file_name),
            line,
            end_line,
            "" if lines == _LOGGED_OUT else truncate_snippet(lines),
            {"fingerprint": fingerprint} if fingerprint and fingerprint != _LOGGED_OUT else {},
            help_uri if type(help_uri) is str else "",
        )
