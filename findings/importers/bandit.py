"""Streaming importer for bandit's JSON report (``bandit -f json``).

The report is ``{"errors": [...], "generated_at": ..., "metrics": {...}, "results": [...]}``; each result has
``filename``, ``line_number``, ``line_range``, ``test_id``, ``test_name``, ``issue_severity`` (HIGH/MEDIUM/LOW),
``issue_confidence``, ``issue_text``, ``code``, ``more_info`` and, since bandit 1.7.5, ``issue_cwe`` and the columns.

Like the SARIF importer, two passes: the constructor checks the whole file (syntax, limits, structure) and collects
``errors``; :meth:`BanditScan.findings` converts the results. Paths are plain file paths ('./bad/x.py'): they are
canonicalised, never percent-decoded; an absolute one loses its checkout root as in SARIF (see PathResolver).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from findings.importers.base import ParsedFinding, ScanFormatError
from findings.importers.sarif import (
    At,
    CommonDir,
    JsonStream,
    PathResolver,
    got,
    is_absolute_uri,
    make_finding,
    short,
    truncate_snippet,
)
from findings.importers.sarif import typed as _typed

_SEVERITY = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNDEFINED": "info"}


def add_plain_path(common: CommonDir, name: object) -> None:
    """Feed an absolute plain path to the common-root heuristic."""
    if type(name) is str and is_absolute_uri(name) and name[:5].lower() != "file:":
        common.add("/" + name.replace("\\", "/").lstrip("/"))


class BanditScan:
    """A bandit JSON report. ``tools`` is ['bandit']; ``complete`` is always True: bandit's ``errors`` (files it
    could not parse) are listed in ``problems`` but don't make the scan incomplete."""

    format = "bandit"
    complete = True

    def __init__(self, path: Any, source_root: str | None = None) -> None:
        self.path = path
        self.tools = ["bandit"]
        self.problems: list[str] = []
        self._offset: int | None = None
        common = CommonDir()
        with open(path, "rb") as f:
            stream = JsonStream(f)
            stream.enter("{", "(root)", 1)
            for key in stream.members("(root)"):
                if key == "results":
                    stream.enter("[", "results", 2)
                    self._offset = stream.byte_offset() - 1
                    for i in stream.elements("results"):
                        result = stream.read(At("results", i), 3)
                        if type(result) is dict:
                            add_plain_path(common, result.get("filename"))
                elif key == "errors":
                    errors = stream.read("errors", 2)
                    if type(errors) is not list:
                        raise ScanFormatError(f"errors: expected a list, got {got(errors)}")
                    for error in errors[:100]:
                        if type(error) is dict:
                            self.problems.append(f"{error.get('filename', '?')}: {str(error.get('reason', ''))[:500]}")
                else:
                    stream.skip(short(key), 2)
            stream.finish()
        if self._offset is None:
            raise ScanFormatError("results: required")
        self.paths = PathResolver(common=common, source_root=source_root)

    def findings(self) -> Iterator[ParsedFinding]:
        with open(self.path, "rb") as f:
            stream = JsonStream(f, self._offset or 0)
            stream.enter("[", "results", 2)
            for i in stream.elements("results"):
                path = At("results", i)
                yield self.convert(stream.read(path, 3, False), path)

    def convert(self, result: Any, path: At) -> ParsedFinding:
        if type(result) is not dict:
            raise ScanFormatError(f"{path()}: expected an object, got {got(result)}")
        filename = _typed(result, "filename", str, path, required=True)
        test_id = _typed(result, "test_id", str, path, required=True)
        severity = _typed(result, "issue_severity", str, path, required=True)
        mapped = _SEVERITY.get(severity.upper())
        if mapped is None:
            raise ScanFormatError(f"{path()}.issue_severity: expected one of HIGH, MEDIUM, LOW; got {short(severity)}")
        line = _typed(result, "line_number", int, path)
        if line is not None and line < 1:
            line = None
        end = line
        line_range = _typed(result, "line_range", list, path)
        if line is not None and line_range:
            numbers = [n for n in line_range if type(n) is int]
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
