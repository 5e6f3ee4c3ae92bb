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

    def finish(self) -> Counts:
        return self.counts


class CopyWriter:
    """PostgreSQL: COPY every batch into a temporary table, then four statements for the whole scan."""

    def __init__(self, scan: Scan, now: datetime):
        self.scan, self.now, self.counts = scan, now, Counts()
        self.cursor = connection.cursor()
        columns = ", ".join(f"{name} {sql_type}" for name, sql_type, _ in COLUMNS)
        # Dropped at the end; ON COMMIT DROP would outlive a rolled-back savepoint in an outer transaction.
        self.cursor.execute(_sql("DROP TABLE IF EXISTS {stage}"))
        self.cursor.execute(_sql("CREATE TEMPORARY TABLE {stage} (%s)") % columns)

    def add(self, batch: Mapping[str, ParsedFinding]) -> None:
        buffer = io.StringIO()
        for fingerprint, item in batch.items():
            values = [fingerprint] + [value(item) for _, _, value in COLUMNS[1:]]
            buffer.write("\t".join(_copy_text(v) for v in values))
            buffer.write("\n")
        buffer.seek(0)
        self.cursor.copy_expert(_sql("COPY {stage} ({columns}) FROM STDIN"), buffer)

    def finish(self) -> Counts:
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


def record_changes(scan: Scan) -> None:
    """The history rows of the findings this scan reopened or resolved (any database, one statement each).
    The scan is the one that set their `reappeared_scan` / `resolved_scan`, both indexed."""
    with connection.cursor() as cursor:
        for kind, column in ((FindingChange.Kind.REAPPEARED, "reappeared_scan_id"),
                             (FindingChange.Kind.RESOLVED, "resolved_scan_id")):
            cursor.execute(
                f"INSERT INTO {FindingChange._meta.db_table} (finding_id, scan_id, kind) "  # noqa: S608 - constants
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
