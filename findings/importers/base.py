"""What every importer yields: plain values, one per actionable result, streamed."""

from __future__ import annotations

from dataclasses import dataclass, field


class ScanFormatError(ValueError):
    """The file can't be read. The message says where and what, e.g.
    "runs[0].results[12].locations: expected a list"."""


@dataclass(frozen=True)
class ParsedFinding:
    tool: str  # the scanner's name as it reports it (SARIF: tool.driver.name)
    rule_id: str
    rule_title: str  # short human name of the rule (may be empty)
    severity: str  # critical, high, medium, low, info
    message: str  # the vulnerability details for this result
    file_path: str  # repository-relative, normalised with findings.fingerprint.normalize_path
    start_line: int | None
    end_line: int | None
    snippet: str = ""
    partial_fingerprints: dict[str, str] = field(default_factory=dict)
    help_uri: str = ""
