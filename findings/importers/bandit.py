"""Streaming importer for bandit's JSON report (``bandit -f json``).

The report is ``{"errors": [...], "generated_at": ..., "metrics": {...}, "results": [...]}``; each result has
``filename``, ``line_number``, ``line_range``, ``test_id``, ``test_name``, ``issue_severity`` (HIGH/MEDIUM/LOW),
``issue_confidence``, ``issue_text``, ``code``, ``more_info`` and, since bandit 1.7.5, ``issue_cwe`` and the columns.

Like the SARIF importer, two passes: the constructor checks the whole file (syntax, limits, structure) and collects
``errors``; :meth:`BanditScan.findings` converts the results. Paths are plain file paths ('./bad/x.py'): they are
canonicalised, never percent-decoded; an absolute one loses its checkout root as in SARIF (see PathResolver).
"""

from __future__ import annotations

from typing import Any

from findings.importers.base import ParsedFinding, ScanFormatError
from findings.importers.flat import FlatReport
from findings.importers.sarif import MAX_LINE, At, check_line, got, make_finding, short, truncate_snippet
from findings.importers.sarif import typed as _typed

_SEVERITY = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNDEFINED": "info"}


class BanditScan(FlatReport):
    """A bandit JSON report. ``tools`` is ['bandit']; bandit's ``errors`` (files it could not parse) are listed in
    ``problems`` but don't make the scan incomplete."""

    format = "bandit"
    tool = "bandit"
    path_field = "filename"

    def error_line(self, error: dict) -> str:
        return f"{error.get('filename', '?')}: {str(error.get('reason', ''))[:500]}"

    def convert(self, result: Any, path: At) -> ParsedFinding:
        if type(result) is not dict:
            raise ScanFormatError(f"{path()}: expected an object, got {got(result)}")
        filename = _typed(result, "filename", str, path, required=True)
        test_id = _typed(result, "test_id", str, path, required=True)
        severity = _typed(result, "issue_severity", str, path, required=True)
        mapped = _SEVERITY.get(severity.upper())
        if mapped is None:
            raise ScanFormatError(f"{path()}.issue_severity: expected one of HIGH, MEDIUM, LOW; got {short(severity)}")
        line = check_line(_typed(result, "line_number", int, path), At(path, "line_number"))
        if line is not None and line < 1:
            line = None
        end = line
        line_range = _typed(result, "line_range", list, path)
        if line is not None and line_range:
            numbers = [n for n in line_range if type(n) is int and n <= MAX_LINE]
            if numbers and max(numbers) > line:
                end = max(numbers)
        return make_finding(
            "bandit",
            test_id,
            _typed(result, "test_name", str, path) or "",
            mapped,
            _typed(result, "issue_text", str, path) or "",
            self.paths.resolve_plain(filename),
            line,
            end,
            truncate_snippet(_typed(result, "code", str, path) or ""),
            {},
            _typed(result, "more_info", str, path) or "",
        )
