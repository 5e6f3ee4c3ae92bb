"""Writes for repositories, scans and findings. A scan import is one transaction, in bulk."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone

from .fingerprint import compute_fingerprint
from .importers import parse_scan
from .importers.base import ParsedFinding, ScanFormatError
from .models import SEVERITY_RANK, Finding, Repository, Scan, Sighting
from .signals import scan_completed

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
FORMATS = ("auto", "sarif", "bandit", "semgrep")


class ScanImportError(Exception):
    """A scan file was rejected. The scan (if any) is marked failed; no finding was written or changed."""

    def __init__(self, message: str, scan: Scan | None = None):
        super().__init__(message)
        self.scan = scan


@dataclass
class _Counts:
    results: int = 0
    new: int = 0
    unchanged: int = 0
    reappeared: int = 0
    resolved: int = 0

    def as_dict(self) -> dict[str, int]:
        total = self.new + self.unchanged + self.reappeared
        return {**self.__dict__, "total": total}


def import_scan(*, repository: Repository, path: str | os.PathLike, format: str = "auto", file_name: str = "") -> Scan:
    """Import one scan file of `repository` and complete the scan.

    Either every finding change of the file is written, or none: on a file that can't be read the
    scan is kept, marked failed with a message that says where and what, and ScanImportError is raised.
    After the commit, `scan_completed` is sent (the scan-completion pipeline listens).
    """
    if format not in FORMATS:
        raise ScanImportError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    return _record(repository, format, file_name or os.path.basename(str(path)), lambda: parse_scan(path, format))


def record_scan(
    *, repository: Repository, findings: Iterable[ParsedFinding], tools: Iterable[str], format: str = "api"
) -> Scan:
    """Record a completed scan from already parsed findings (same lifecycle and transaction as a file)."""
    tools = list(tools)
    return _record(
        repository, format, "",
        lambda: SimpleNamespace(format=format, tools=tools, findings=findings, complete=True, problems=[]),
    )


def _record(repository: Repository, format: str, file_name: str, parse) -> Scan:
    scan = Scan.objects.create(repository=repository, format=format, file_name=file_name, status=Scan.Status.PROCESSING)
    try:
        with transaction.atomic():
            # One import per repository at a time: two concurrent scans would race on new fingerprints.
            Repository.objects.select_for_update().filter(pk=repository.pk).first()
            parsed = parse()
            # An incomplete scan (the scanner crashed, a run has no results) resolves nothing.
            counts = _apply_findings(scan, parsed.findings, parsed.tools if parsed.complete else [])
            scan.format = parsed.format
            scan.tool = ", ".join(parsed.tools)[:200]
            scan.status = Scan.Status.COMPLETED
            scan.counts = counts.as_dict()
            scan.complete = parsed.complete
            scan.warnings = [str(problem)[:500] for problem in parsed.problems[:50]]
            scan.completed_at = timezone.now()
            scan.save(update_fields=["format", "tool", "status", "counts", "complete", "warnings", "completed_at"])
            transaction.on_commit(lambda: scan_completed.send(sender=Scan, scan=scan))
    except ScanFormatError as exc:
        _fail(scan, str(exc))
        raise ScanImportError(str(exc), scan) from exc
    except OSError as exc:
        _fail(scan, f"can't read the file: {exc.strerror or exc}")
        raise ScanImportError(scan.error, scan) from exc
    return scan


def _fail(scan: Scan, message: str) -> None:
    scan.status = Scan.Status.FAILED
    scan.error = message
    scan.completed_at = timezone.now()
    scan.save(update_fields=["status", "error", "completed_at"])
    logger.info("scan %s of repository %s rejected: %s", scan.pk, scan.repository_id, message)


def _batches(items: Iterable[ParsedFinding], size: int) -> Iterable[list[ParsedFinding]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _apply_findings(scan: Scan, findings: Iterable[ParsedFinding], tools: Iterable[str]) -> _Counts:
    """New, unchanged and reappeared findings batch by batch (a few statements per batch), then
    resolve the open findings of the scan's tools that this scan did not see."""
    counts = _Counts()
    seen: set[str] = set()
    also: dict[str, list[str]] = {}
    now = timezone.now()
    repository_id = scan.repository_id
    for batch in _batches(findings, BATCH_SIZE):
        counts.results += len(batch)
        by_fingerprint: dict[str, ParsedFinding] = {}
        for item in batch:
            fingerprint = compute_fingerprint(repository_id, item.file_path, item.start_line, item.rule_id)
            # The same path, line and rule twice in one scan is one finding; what the other results
            # say (another package with the same CVE, another column) is kept in its description.
            if fingerprint not in seen:
                seen.add(fingerprint)
                by_fingerprint[fingerprint] = item
            elif len(also) < MAX_MERGED_FINDINGS or fingerprint in also:
                messages = also.setdefault(fingerprint, [])
                if len(messages) < MAX_MERGED_MESSAGES and item.message not in messages:
                    messages.append(item.message[:2000])
        if by_fingerprint:
            _apply_batch(scan, by_fingerprint, now, counts)
    if also:
        _merge_descriptions(repository_id, also, now)

    counts.resolved = (
        Finding.objects.filter(repository_id=repository_id, status=Finding.Status.OPEN, tool__in=list(tools))
        .exclude(last_scan=scan)
        .update(status=Finding.Status.RESOLVED, resolved_at=now, resolved_scan=scan, updated_at=now)
    )
    return counts


ALSO_REPORTED = "\n\nAlso reported at this location:\n"
MAX_MERGED_FINDINGS = 1000
MAX_MERGED_MESSAGES = 20


def _merge_descriptions(repository_id: int, also: dict[str, list[str]], now) -> None:
    """Append what the other results of a shared fingerprint said (idempotent across re-imports)."""
    findings = Finding.objects.filter(repository_id=repository_id, fingerprint__in=list(also)).only(
        "id", "fingerprint", "description"
    )
    for finding in findings:
        base = finding.description.split(ALSO_REPORTED, 1)[0]
        others = [m for m in also[finding.fingerprint] if m != base]
        if others:
            finding.description = base + ALSO_REPORTED + "\n".join(f"- {m}" for m in others)
            finding.updated_at = now
    Finding.objects.bulk_update(findings, ["description", "updated_at"], batch_size=500)


def _apply_batch(scan: Scan, by_fingerprint: dict[str, ParsedFinding], now, counts: _Counts) -> None:
    existing = {
        fingerprint: (pk, status)
        for fingerprint, pk, status in Finding.objects.filter(
            repository_id=scan.repository_id, fingerprint__in=list(by_fingerprint)
        ).values_list("fingerprint", "id", "status")
    }
    unchanged = [pk for pk, status in existing.values() if status == Finding.Status.OPEN]
    reappeared = [pk for pk, status in existing.values() if status != Finding.Status.OPEN]
    created = Finding.objects.bulk_create(
        [_new_finding(scan, fp, item) for fp, item in by_fingerprint.items() if fp not in existing]
    )
    if unchanged:
        Finding.objects.filter(id__in=unchanged).update(last_scan=scan, updated_at=now)
    if reappeared:
        Finding.objects.filter(id__in=reappeared).update(
            status=Finding.Status.OPEN, resolved_at=None, resolved_scan=None, reappeared_scan=scan,
            last_scan=scan, updated_at=now,
        )
    Sighting.objects.bulk_create(
        [Sighting(scan=scan, finding_id=pk) for pk in [*unchanged, *reappeared, *(f.pk for f in created)]]
    )
    counts.new += len(created)
    counts.unchanged += len(unchanged)
    counts.reappeared += len(reappeared)


def _new_finding(scan: Scan, fingerprint: str, item: ParsedFinding) -> Finding:
    return Finding(
        repository_id=scan.repository_id,
        fingerprint=fingerprint,
        rule_id=item.rule_id[:500],
        title=(item.rule_title or item.rule_id)[:500],
        severity=item.severity,
        severity_rank=SEVERITY_RANK[item.severity],
        description=item.message,
        file_path=item.file_path[:1000],
        start_line=item.start_line,
        end_line=item.end_line,
        tool=item.tool[:200],
        snippet=item.snippet,
        partial_fingerprints=item.partial_fingerprints,
        help_uri=item.help_uri[:1000],
        first_scan=scan,
        last_scan=scan,
    )
