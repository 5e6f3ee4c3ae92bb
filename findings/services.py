"""Writes for repositories, scans and findings. A scan import is one transaction, in bulk."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import islice
from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone

from . import bulk, uploads
from .fingerprint import compute_fingerprint
from .importers import parse_scan
from .importers.base import ParsedFinding, ScanFormatError
from .models import Finding, Repository, Scan
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
    A gzip-compressed file (told by its first bytes, not its name) is read decompressed, up to
    CERTIFAI_MAX_DECOMPRESSED_SIZE bytes.
    After the commit, `scan_completed` is sent (the scan-completion pipeline listens).
    """
    if format not in FORMATS:
        raise ScanImportError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    with ExitStack() as stack:
        # A gzip-compressed file is decompressed (bounded, see findings/uploads.py) to a temporary file that lives
        # until the import is over.
        def parse():
            return parse_scan(stack.enter_context(uploads.plain_scan_file(path)), format)

        return _record(repository, format, file_name or os.path.basename(str(path)), parse)


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
    """New, unchanged and reappeared findings in bulk (statements per batch, never per finding; see
    findings/bulk.py), then resolve the open findings of the scan's tools that this scan did not see."""
    counts = _Counts()
    seen: set[str] = set()
    also: dict[str, list[str]] = {}
    now = timezone.now()
    repository_id = scan.repository_id
    writer = bulk.writer_for(scan, now)
    try:
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
                writer.add(by_fingerprint)
    except BaseException:
        writer.abort()  # a file that can't be read: stop the writer before the transaction rolls back
        raise
    written = writer.finish()
    counts.new, counts.unchanged, counts.reappeared = written.new, written.unchanged, written.reappeared
    if also:
        _merge_descriptions(repository_id, also, now)

    counts.resolved = (
        Finding.objects.filter(repository_id=repository_id, status=Finding.Status.OPEN, tool__in=list(tools))
        .exclude(last_scan=scan)
        .update(status=Finding.Status.RESOLVED, resolved_at=now, resolved_scan=scan, updated_at=now)
    )
    bulk.record_changes(scan)
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
