"""Scanner output importers: SARIF 2.1.0, bandit JSON and semgrep JSON, streamed with bounded memory.

Public API::

    detect_format(path) -> "sarif" | "bandit" | "semgrep"        # ScanFormatError if none
    parse_scan(path, format="auto", *, source_root=None) -> ParsedScan
    iter_findings(path, format="auto", *, source_root=None) -> Iterator[ParsedFinding]

``parse_scan`` reads the whole file once, checking its JSON syntax, size limits and structure and collecting what the
findings need (for SARIF: every run's tool, rules, invocations, base URIs); a bad file raises
:class:`~findings.importers.base.ScanFormatError` there, with a one-line message that says where and what
(``runs[0].tool: required``, ``invalid JSON at byte 6968: ...``). ``ParsedScan.findings`` is a generator making a second
pass that yields one :class:`~findings.importers.base.ParsedFinding` per actionable result; a result that is malformed
in a way the first pass does not check raises ScanFormatError from the iteration, at that result (findings yielded
before it are then to be discarded: the caller imports in one transaction). ``iter_findings`` is the same, lazily: the
first ``next()`` makes the first pass. OSError propagates as usual.

``source_root`` (optional) is the absolute folder the scanned repository was checked out to, if the caller knows it:
absolute paths in the file are made relative to it first (see ``sarif.PathResolver`` for what happens without it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from findings.importers.bandit import BanditScan
from findings.importers.base import ParsedFinding, ScanFormatError
from findings.importers.sarif import JsonStream, SarifScan, clean, short
from findings.importers.semgrep import SemgrepScan

__all__ = [
    "FORMATS",
    "ParsedFinding",
    "ParsedScan",
    "ScanFormatError",
    "detect_format",
    "iter_findings",
    "parse_scan",
]

_SCANS = {"sarif": SarifScan, "bandit": BanditScan, "semgrep": SemgrepScan}
FORMATS = tuple(_SCANS)


@dataclass
class ParsedScan:
    """One parsed scan file.

    * ``format``: "sarif", "bandit" or "semgrep" (the detected one when "auto" was asked).
    * ``tools``: the scanner names as the file gives them, in order, without repeats (SARIF: each run's
      ``tool.driver.name``; bandit and semgrep: ["bandit"], ["semgrep"]). Each finding's ``tool`` is one of them.
    * ``findings``: a one-shot generator of ParsedFinding (the second pass over the file).
    * ``complete``: False when the file itself says the scan did not finish -- a SARIF run with
      ``executionSuccessful: false``, an error-level tool notification or no ``results`` array, or a log without runs.
      Findings absent from an incomplete scan must not be taken as fixed.
    * ``problems``: one line per reason for ``complete`` being False, and the tool's own error list (bandit/semgrep
      ``errors``, which don't make the scan incomplete).
    """

    format: str
    tools: list[str]
    findings: Iterator[ParsedFinding]
    complete: bool = True
    problems: list[str] = field(default_factory=list)


def detect_format(path: str | os.PathLike) -> str:
    """Tell the format from the content (never the file name), reading only as far as needed.

    SARIF: a top-level ``runs`` key, or a ``$schema`` mentioning sarif, or a ``version`` without ``results``.
    bandit: ``generated_at`` or ``metrics`` keys, or a first result with ``test_id``.
    semgrep: a first result with ``check_id``, or ``results`` without any of the bandit keys.
    """
    with open(path, "rb") as f:
        stream = JsonStream(f)
        char = stream.peek()
        if char != "{":
            if not char:
                raise ScanFormatError("unrecognised scan format: the file is empty")
            stream.read("(root)", 1)  # a syntax error says so
            raise ScanFormatError("unrecognised scan format: the top-level JSON value is not an object")
        stream.enter("{", "(root)", 1)
        keys: set[str] = set()
        for key in stream.members("(root)"):
            keys.add(key)
            if key == "runs":
                return "sarif"
            if key in ("generated_at", "metrics"):
                return "bandit"
            if key == "$schema":
                schema = stream.read("$schema", 2)
                if isinstance(schema, str) and "sarif" in schema.lower():
                    return "sarif"
            elif key == "results" and stream.peek() == "[":
                stream.enter("[", "results", 2)
                for _ in stream.elements("results"):
                    first = stream.read("results[0]", 3)
                    if isinstance(first, dict) and isinstance(first.get("check_id"), str):
                        return "semgrep"
                    if isinstance(first, dict) and isinstance(first.get("test_id"), str):
                        return "bandit"
                    raise ScanFormatError("unrecognised scan format: results[0] is no bandit or semgrep result")
            else:
                stream.skip(short(key), 2)
    if "results" in keys:
        return "semgrep"
    if "version" in keys:
        return "sarif"
    raise ScanFormatError("unrecognised scan format: expected SARIF (runs) or bandit / semgrep JSON (results)")


def parse_scan(path: str | os.PathLike, format: str = "auto", *, source_root: str | None = None) -> ParsedScan:
    """First pass now (raising ScanFormatError for a bad file), findings streamed by ``.findings``."""
    if format == "auto":
        format = detect_format(path)
    if format not in _SCANS:
        raise ValueError(f"unknown format {format!r}: use auto, {', '.join(FORMATS)}")
    scan = _SCANS[format](path, source_root=source_root)
    return ParsedScan(
        format=scan.format,
        # Storable texts, as the findings' (NUL and lone surrogates replaced): the tool names match findings' tool.
        tools=list(dict.fromkeys(clean(tool) for tool in scan.tools)),
        findings=scan.findings(),
        complete=scan.complete,
        problems=[clean(problem) for problem in scan.problems],
    )


def iter_findings(
    path: str | os.PathLike, format: str = "auto", *, source_root: str | None = None
) -> Iterator[ParsedFinding]:
    """The findings of a scan file, both passes made lazily (errors raised from the iteration)."""
    yield from parse_scan(path, format, source_root=source_root).findings
