"""How a scan's findings reach the database: batch by batch with the ORM (any database), or, on
PostgreSQL, by a thread that writes each batch with one UPDATE ... RETURNING and one COPY while the
import parses the next.

Both writers take the scan's de-duplicated findings in batches (`add`) and classify them as new,
unchanged or reappeared; they set the same fields. The PostgreSQL writer needs two statements per
batch where the ORM writer needs four, and skips building 100,000 model objects for a 100,000-result
scan (see bench/REPORT.md for the numbers).
"""

from __future__ import annotations

import io
import json
import queue
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.db import connection

from .importers.base import ParsedFinding
from .models import SEVERITY_RANK, Finding, FindingChange, Scan

# (column, value of a ParsedFinding), in the COPY order after the fingerprint.
COLUMNS = (
    ("rule_id", lambda f: f.rule_id[:500]),
    ("title", lambda f: (f.rule_title or f.rule_id)[:500]),
    ("severity", lambda f: f.severity),
    ("severity_rank", lambda f: SEVERITY_RANK[f.severity]),
    ("description", lambda f: f.message),
    ("file_path", lambda f: f.file_path[:1000]),
    ("start_line", lambda f: f.start_line),
    ("end_line", lambda f: f.end_line),
    ("tool", lambda f: f.tool[:200]),
    ("snippet", lambda f: f.snippet),
    ("partial_fingerprints", lambda f: json.dumps(f.partial_fingerprints)),
    ("help_uri", lambda f: f.help_uri[:1000]),
)


class Counts:
    def __init__(self) -> None:
        self.new = self.unchanged = self.reappeared = 0


def writer_for(scan: Scan, now: datetime) -> OrmWriter | CopyWriter:
    return CopyWriter(scan, now) if connection.vendor == "postgresql" else OrmWriter(scan, now)


class OrmWriter:
    """Any database: per batch, one lookup, one bulk insert and up to two updates."""

    def __init__(self, scan: Scan, now: datetime):
        self.scan, self.now, self.counts = scan, now, Counts()

    def add(self, batch: Mapping[str, ParsedFinding]) -> None:
        scan, now = self.scan, self.now
        existing = {
            fingerprint: (pk, status)
            for fingerprint, pk, status in Finding.objects.filter(
                repository_id=scan.repository_id, fingerprint__in=list(batch)
            ).order_by().values_list("fingerprint", "id", "status")
        }
        unchanged = [pk for pk, status in existing.values() if status == Finding.Status.OPEN]
        reappeared = [pk for pk, status in existing.values() if status != Finding.Status.OPEN]
        created = Finding.objects.bulk_create(
            [new_finding(scan, fp, item) for fp, item in batch.items() if fp not in existing]
        )
        if unchanged:
            Finding.objects.filter(id__in=unchanged).update(last_scan=scan, updated_at=now)
        if reappeared:
            Finding.objects.filter(id__in=reappeared).update(
                status=Finding.Status.OPEN, resolved_at=None, resolved_scan=None, reappeared_scan=scan,
                last_scan=scan, updated_at=now,
            )
        self.counts.new += len(created)
        self.counts.unchanged += len(unchanged)
        self.counts.reappeared += len(reappeared)

    def abort(self) -> None:
        pass

    def finish(self) -> Counts:
        return self.counts


class CopyWriter:
    """PostgreSQL: every batch is written by a thread on the import's connection while the caller parses the next
    one, so PostgreSQL works on one batch while Python reads the next (the two use different cores).

    A repository's first import has nothing to match: its batches are copied straight into the findings table.
    Any later import marks the batch's known fingerprints seen (one UPDATE ... RETURNING, which also reopens the
    resolved ones) and copies in only the rest, the new findings. Foreign keys are checked statement by statement,
    in the thread, rather than all at COMMIT.
    """

    def __init__(self, scan: Scan, now: datetime):
        self.scan, self.now, self.counts = scan, now, Counts()
        self.cursor = connection.cursor()
        self.first = not Finding.objects.filter(repository_id=scan.repository_id).exists()
        self.cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred again in finish() / abort()
        names = ["fingerprint", *(name for name, _ in COLUMNS)]
        constants = {"repository_id": scan.repository_id, "status": Finding.Status.OPEN,
                     "first_scan_id": scan.pk, "last_scan_id": scan.pk, "created_at": now.isoformat(),
                     "updated_at": now.isoformat()}
        self.row_end = "\t" + "\t".join(_copy_text(v) for v in constants.values()) + "\n"
        self.copy_sql = f"COPY {Finding._meta.db_table} ({', '.join([*names, *constants])}) FROM STDIN"
        self.params = {"repo": scan.repository_id, "scan": scan.pk, "now": now}
        self.worker = _Background(self._copy if self.first else self._match_and_copy)

    def add(self, batch: Mapping[str, ParsedFinding]) -> None:
        if self.first:
            self.worker.put(self._copy_rows(batch))  # the text is built here, while the thread copies the last batch
            self.counts.new += len(batch)
        else:
            self.worker.put(batch)

    def _copy_rows(self, batch: Mapping[str, ParsedFinding]) -> str:
        row_end = self.row_end
        return "".join(
            "\t".join([fingerprint, *(_copy_text(value(item)) for _, value in COLUMNS)]) + row_end
            for fingerprint, item in batch.items()
        )

    def _copy(self, text: str) -> None:
        self.cursor.copy_expert(self.copy_sql, io.StringIO(text))

    def _match_and_copy(self, batch: Mapping[str, ParsedFinding]) -> None:
        """In the thread: mark the known fingerprints seen (reopening the resolved ones), copy in the others."""
        self.cursor.execute(_sql(SEEN), {**self.params, "fingerprints": list(batch)})
        seen = self.cursor.fetchall()
        reappeared = sum(1 for _, reopened in seen if reopened)
        self.counts.reappeared += reappeared
        self.counts.unchanged += len(seen) - reappeared
        if len(seen) < len(batch):
            known = {fingerprint for fingerprint, _ in seen}
            new = {fingerprint: item for fingerprint, item in batch.items() if fingerprint not in known}
            self._copy(self._copy_rows(new))
            self.counts.new += len(new)

    def abort(self) -> None:
        """The import failed: stop the thread (its work is rolled back with the transaction)."""
        self.worker.close(raise_error=False)
        if self.worker.error is None:
            # A file that can't be read (not a database error): an outer transaction goes on, as it was.
            self.cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def finish(self) -> Counts:
        self.worker.close()
        self.cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        if self.first and self.counts.new >= ANALYZE_AFTER:
            # The planner would still think the repository holds nothing until autovacuum analyzes the table (about
            # a minute later) and plan the next import's lookups as scans of all its findings, batch after batch.
            # Only the columns that imports, the pipeline and the lists filter on (without the fingerprint's, the
            # batch's `fingerprint = ANY(...)` looks like most of the table): under half a full ANALYZE's time.
            self.cursor.execute(_sql("ANALYZE {finding} (repository_id, fingerprint, status, tool, severity_rank)"))
        self.cursor.close()
        return self.counts


# Both cases in one statement, by the values before the update: an open finding was seen again; a resolved one
# reappeared (open again, its resolution cleared). RETURNING tells which fingerprints of the batch were known.
SEEN = (
    "UPDATE {finding} f SET last_scan_id = %(scan)s, updated_at = %(now)s, status = 'open', resolved_at = NULL, "
    "resolved_scan_id = NULL, reappeared_scan_id = CASE WHEN f.status = 'open' THEN f.reappeared_scan_id "
    "ELSE %(scan)s END "
    "WHERE f.repository_id = %(repo)s AND f.fingerprint = ANY(%(fingerprints)s) "
    "RETURNING f.fingerprint, f.reappeared_scan_id IS NOT DISTINCT FROM %(scan)s"
)
# A first import of this many findings or more analyzes the findings table before it commits.
ANALYZE_AFTER = 10_000


class _Background:
    """Runs `write` on each batch, one at a time, in a thread of its own on the caller's connection. Only the
    thread uses the connection until close(): the caller is parsing meanwhile. At most two batches wait, so memory
    stays bounded."""

    def __init__(self, write: Callable[[Any], None]):
        self.write = write
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="certifai-import-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is None:  # after an error, drain the queue so the caller never blocks
                try:
                    self.write(batch)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    self.error = exc

    def put(self, batch: Any) -> None:
        self._raise()
        self.queue.put(batch)

    def close(self, raise_error: bool = True) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if raise_error:
            self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


def record_changes(scan: Scan) -> None:
    """The history rows of the findings this scan reopened or resolved (any database, one statement each).
    The scan is the one that set their `reappeared_scan` / `resolved_scan`, both indexed."""
    with connection.cursor() as cursor:
        for kind, column in ((FindingChange.Kind.REAPPEARED, "reappeared_scan_id"),
                             (FindingChange.Kind.RESOLVED, "resolved_scan_id")):
            cursor.execute(
                f"INSERT INTO {FindingChange._meta.db_table} (finding_id, scan_id, kind) "  # noqa: S608  # nosec B608
                f"SELECT id, %s, %s FROM {Finding._meta.db_table} WHERE {column} = %s",
                [scan.pk, kind.value, scan.pk],
            )


def _sql(template: str) -> str:
    """Fill in the table names of the models (no user input); values always travel as query parameters."""
    return template.format(finding=Finding._meta.db_table)


def _copy_text(value: object) -> str:
    """A value in COPY's text format: \\N for NULL, backslash escapes for the characters it reserves."""
    if value is None:
        return "\\N"
    text = str(value)
    if any(c in text for c in "\\\t\n\r"):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def new_finding(scan: Scan, fingerprint: str, item: ParsedFinding) -> Finding:
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
