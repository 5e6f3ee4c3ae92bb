"""How a scan's findings reach the database: batch by batch with the ORM (any database), or, on
PostgreSQL, streamed with COPY into a temporary table and applied with a handful of set-based statements.

Both writers take the scan's de-duplicated findings in batches (`add`) and then classify them
(`finish`) as new, unchanged or reappeared; they set the same fields. The PostgreSQL writer does in
four statements what the ORM writer does in four per batch, and skips building 100,000 model objects
for a 100,000-result scan (see bench/REPORT.md for the numbers).
"""

from __future__ import annotations

import io
import json
import queue
import threading
from collections.abc import Mapping
from datetime import datetime

from django.db import connection

from .importers.base import ParsedFinding
from .models import SEVERITY_RANK, Finding, FindingChange, Scan

STAGE = "certifai_import_stage"
# (column, SQL type, value of a ParsedFinding). The order is the COPY order.
COLUMNS = (
    ("fingerprint", "text PRIMARY KEY", None),
    ("rule_id", "text", lambda f: f.rule_id[:500]),
    ("title", "text", lambda f: (f.rule_title or f.rule_id)[:500]),
    ("severity", "text", lambda f: f.severity),
    ("severity_rank", "smallint", lambda f: SEVERITY_RANK[f.severity]),
    ("description", "text", lambda f: f.message),
    ("file_path", "text", lambda f: f.file_path[:1000]),
    ("start_line", "integer", lambda f: f.start_line),
    ("end_line", "integer", lambda f: f.end_line),
    ("tool", "text", lambda f: f.tool[:200]),
    ("snippet", "text", lambda f: f.snippet),
    ("partial_fingerprints", "jsonb", lambda f: json.dumps(f.partial_fingerprints)),
    ("help_uri", "text", lambda f: f.help_uri[:1000]),
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
    """PostgreSQL: COPY every batch into a temporary table, then four statements for the whole scan.

    The COPYs run in a thread of their own on the import's connection while the caller parses the next batch, so
    PostgreSQL stores one batch while Python reads the next (the two use different cores). A repository's first
    import, which has nothing to match, is copied straight into the findings table, its foreign keys checked batch
    by batch in that thread rather than all at COMMIT.
    """

    def __init__(self, scan: Scan, now: datetime):
        self.scan, self.now, self.counts = scan, now, Counts()
        self.cursor = connection.cursor()
        self.direct = not Finding.objects.filter(repository_id=scan.repository_id).exists()
        if self.direct:
            # Checked at the end of each batch's COPY, in the thread; set back to deferred in finish().
            self.cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            names = [name for name, _, _ in COLUMNS]
            constants = {"repository_id": scan.repository_id, "status": Finding.Status.OPEN,
                         "first_scan_id": scan.pk, "last_scan_id": scan.pk, "created_at": now.isoformat(),
                         "updated_at": now.isoformat()}
            self.constant_text = "\t".join(_copy_text(v) for v in constants.values())
            target = f"{Finding._meta.db_table} ({', '.join([*names, *constants])})"
        else:
            columns = ", ".join(f"{name} {sql_type}" for name, sql_type, _ in COLUMNS)
            # Dropped at the end; ON COMMIT DROP would outlive a rolled-back savepoint in an outer transaction.
            self.cursor.execute(_sql("DROP TABLE IF EXISTS {stage}"))
            self.cursor.execute(_sql("CREATE TEMPORARY TABLE {stage} (%s)") % columns)
            target = _sql("{stage} ({columns})")
        self.copier = _BackgroundCopy(self.cursor, f"COPY {target} FROM STDIN")

    def add(self, batch: Mapping[str, ParsedFinding]) -> None:
        buffer = io.StringIO()
        suffix = "\t" + self.constant_text + "\n" if self.direct else "\n"
        for fingerprint, item in batch.items():
            values = [fingerprint] + [value(item) for _, _, value in COLUMNS[1:]]
            buffer.write("\t".join(_copy_text(v) for v in values))
            buffer.write(suffix)
        self.copier.put(buffer.getvalue())
        if self.direct:
            self.counts.new += len(batch)

    def abort(self) -> None:
        """The import failed: stop the thread (its work is rolled back with the transaction)."""
        self.copier.close(raise_error=False)
        if self.direct and self.copier.error is None:
            # A file that can't be read (not a database error): an outer transaction goes on, as it was.
            self.cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def finish(self) -> Counts:
        self.copier.close()
        if self.direct:
            self.cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            self.cursor.close()
            return self.counts
        params = {"repo": self.scan.repository_id, "scan": self.scan.pk, "now": self.now}
        run = self.cursor.execute
        run(_sql(
            "UPDATE {finding} f SET status = 'open', resolved_at = NULL, resolved_scan_id = NULL, "
            "reappeared_scan_id = %(scan)s, last_scan_id = %(scan)s, updated_at = %(now)s "
            "FROM {stage} s WHERE {match} AND f.status <> 'open'"
        ), params)
        self.counts.reappeared = self.cursor.rowcount
        run(_sql(
            "UPDATE {finding} f SET last_scan_id = %(scan)s, updated_at = %(now)s "
            "FROM {stage} s WHERE {match} AND f.status = 'open' AND f.last_scan_id IS DISTINCT FROM %(scan)s"
        ), params)
        self.counts.unchanged = self.cursor.rowcount
        run(_sql(
            "INSERT INTO {finding} (repository_id, {columns}, status, first_scan_id, last_scan_id, created_at, "
            "updated_at) SELECT %(repo)s, {stage_columns}, 'open', %(scan)s, %(scan)s, %(now)s, %(now)s "
            "FROM {stage} s WHERE NOT EXISTS (SELECT 1 FROM {finding} f WHERE {match})"
        ), params)
        self.counts.new = self.cursor.rowcount
        run(_sql("DROP TABLE {stage}"))
        self.cursor.close()
        return self.counts


class _BackgroundCopy:
    """COPY statements run one batch at a time by a thread on the caller's connection. Only the thread uses the
    connection until close(): the caller is parsing meanwhile. At most two batches wait, so memory stays bounded."""

    def __init__(self, cursor, sql: str):
        self.cursor, self.sql = cursor, sql
        self.queue: queue.Queue[str | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="certifai-import-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (text := self.queue.get()) is not None:
            if self.error is None:  # after an error, drain the queue so the caller never blocks
                try:
                    self.cursor.copy_expert(self.sql, io.StringIO(text))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    self.error = exc

    def put(self, text: str) -> None:
        self._raise()
        self.queue.put(text)

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
    """Fill in table and column names, all constants of this module and the models (no user input);
    values always travel as query parameters."""
    names = [name for name, _, _ in COLUMNS]
    return template.format(
        finding=Finding._meta.db_table, stage=STAGE,
        match="f.repository_id = %(repo)s AND f.fingerprint = s.fingerprint",
        columns=", ".join(names), stage_columns=", ".join(f"s.{name}" for name in names),
    )


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
