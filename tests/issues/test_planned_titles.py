"""A claimed issue carries the title it will be filed under, computed in SQL at the claim: the same as the one the
adapters send (IssueContent.title), so that the Issues search finds pending issues by one indexed condition."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from findings.importers.base import ParsedFinding
from findings.models import Finding
from findings.services import record_scan
from issues import services
from issues.models import TrackerIssue

pytestmark = pytest.mark.django_db


def finding(rule_id: str, rule_title: str, path: str, line: int | None, severity: str = "high") -> ParsedFinding:
    return ParsedFinding(tool="CodeQL", rule_id=rule_id, rule_title=rule_title, severity=severity,
                         message="m", file_path=path, start_line=line, end_line=line)


CASES = [
    finding("py/sql-injection", "SQL injection", "app/db.py", 10),
    finding("B301", "", "app/pickle.py", 3, "medium"),  # no rule title: the rule id
    finding("py/no-location", "Found in the repository as a whole", "", None, "low"),
    finding("py/no-line", "Whole file", "app/whole.py", None, "critical"),
    finding("py/line-zero", "Line zero is no line", "app/zero.py", 0, "low"),
    finding("py/long", "Ünïcödé " * 40, "src/" + "deep/" * 30 + "file.py", 123456),  # cut at 250 characters
    finding("", "", "app/anon.py", 7),  # neither: "Finding"
]


def test_claimed_rows_carry_the_title_the_adapters_will_send(github_repo):
    scan = record_scan(repository=github_repo, findings=CASES, tools=["CodeQL"])
    services.plan_scan(scan)
    rows = TrackerIssue.objects.filter(repository=github_repo).select_related("finding")
    assert rows.count() == len(CASES)
    for row in rows:
        expected = services.issue_content(row.finding).title
        assert row.title == expected, row.finding.rule_id
    assert any(len(row.title) == 250 and row.title.endswith("…") for row in rows)


def test_create_issue_button_plans_the_title_too(github_repo):
    record_scan(repository=github_repo, findings=[finding("py/xss", "Cross-site scripting", "app/v.py", 4, "info")],
                tools=["CodeQL"])
    found = Finding.objects.get(repository=github_repo)
    row = services.request_issue(found)
    assert row.title == "[INFO] Cross-site scripting in app/v.py:4"


def test_migration_titles_rows_claimed_before(github_repo):
    scan = record_scan(repository=github_repo, findings=CASES[:2], tools=["CodeQL"])
    services.plan_scan(scan)
    TrackerIssue.objects.update(title="")  # as rows claimed before this release were
    migration = importlib.import_module("issues.migrations.0003_planned_titles")
    with connection.schema_editor() as editor:
        migration.plan_titles(None, editor)
    for row in TrackerIssue.objects.select_related("finding"):
        assert row.title == services.issue_content(row.finding).title
