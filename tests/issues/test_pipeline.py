"""The scan-completion pipeline against a fake GitHub: the whole story, exactly once."""

from __future__ import annotations

import pytest
import requests

from findings.models import Finding
from findings.services import record_scan
from issues import services
from issues.models import IssueEvent, TrackerIssue
from trackers.fakes.base import Fault
from trackers.models import TrackerConfig

from .conftest import GITHUB_TOKEN, parsed

pytestmark = pytest.mark.django_db

X = parsed("py/sql-injection", "app/db.py", 10, "high")
Y = parsed("py/xss", "app/views.py", 22, "medium")
Z = parsed("py/weak-hash", "app/auth.py", 5, "low")
INFO = parsed("py/todo", "app/x.py", 1, "info")


def scan(repo, *findings):
    return record_scan(repository=repo, findings=list(findings), tools=["CodeQL"])


def test_whole_story(github, github_repo):
    first = scan(github_repo, X, Y, Z, INFO)  # the test's transaction holds back on-commit: we run the steps
    services.plan_scan(first)
    services.sync_repository(github_repo.pk)
    assert github.issue_count("acme/app") == 3  # info is below the "low" threshold
    rows = TrackerIssue.objects.filter(repository=github_repo)
    assert rows.count() == 3 and set(rows.values_list("sync_state", flat=True)) == {"synced"}
    x_row = rows.get(finding__rule_id="py/sql-injection")
    issue = github.issue("acme/app", int(x_row.external_id))
    assert issue["title"] == "[HIGH] Rule py/sql-injection in app/db.py:10"
    assert x_row.finding.fingerprint in issue["body"] and f"/findings/{x_row.finding_id}/" in issue["body"]
    assert {label["name"] for label in issue["labels"]} >= {"certifai", "severity:high"}
    assert x_row.url == issue["html_url"] and x_row.state == "open"
    services.update_scan_counts(first.pk)
    first.refresh_from_db()
    assert first.counts["issues_created"] == 3 and first.counts["issues_failed"] == 0

    # The same scan again: nothing new on the tracker.
    again = scan(github_repo, X, Y, Z, INFO)
    services.plan_scan(again)
    services.sync_repository(github_repo.pk)
    assert github.issue_count("acme/app") == 3

    # X fixed: its issue is closed, with a comment.
    fixed = scan(github_repo, Y, Z, INFO)
    assert services.plan_scan(fixed)["planned_close"] == 1
    services.sync_repository(github_repo.pk)
    x_row.refresh_from_db()
    issue = github.issue("acme/app", int(x_row.external_id))
    assert issue["state"] == "closed" and issue["state_reason"] == "completed" and x_row.state == "closed"
    assert any(f"scan {fixed.pk}" in c for c in github.comments_of("acme/app", int(x_row.external_id)))

    # X back: the same issue reopened, no new one.
    back = scan(github_repo, X, Y, Z, INFO)
    assert services.plan_scan(back)["planned_reopen"] == 1
    services.sync_repository(github_repo.pk)
    x_row.refresh_from_db()
    assert github.issue("acme/app", int(x_row.external_id))["state"] == "open" and x_row.state == "open"
    assert github.issue_count("acme/app") == 3
    assert IssueEvent.objects.filter(issue=x_row, ok=True).values_list("action", flat=True).count() == 3


def test_accepted_risk_is_not_reopened_unless_policy_always(github, github_repo):
    services.plan_scan(scan(github_repo, X))
    services.sync_repository(github_repo.pk)
    row = TrackerIssue.objects.get(repository=github_repo)
    # Someone closes it on GitHub as "not planned" (won't fix), and the refresh learns it.
    closed = requests.patch(f"{github.url}/repos/acme/app/issues/{row.external_id}",
                            json={"state": "closed", "state_reason": "not_planned"},
                            headers={"Authorization": f"Bearer {GITHUB_TOKEN}"}, timeout=5)
    assert closed.status_code == 200
    services.refresh_repository(github_repo.pk)
    row.refresh_from_db()
    assert row.state == "closed" and row.accepted_risk
    services.plan_scan(scan(github_repo))  # X gone
    reappeared = scan(github_repo, X)  # X back
    assert services.plan_scan(reappeared)["planned_reopen"] == 0
    services.sync_repository(github_repo.pk)
    assert github.issue("acme/app", int(row.external_id))["state"] == "closed"

    TrackerConfig.objects.filter(repository=github_repo).update(reopen_policy="always")
    services.plan_scan(scan(github_repo))
    assert services.plan_scan(scan(github_repo, X))["planned_reopen"] == 1
    services.sync_repository(github_repo.pk)
    assert github.issue("acme/app", int(row.external_id))["state"] == "open"


def test_dropped_answer_to_create_does_not_duplicate(github, github_repo):
    github.search_lag = 3600  # the search index never catches up during this test
    github.add_fault(Fault("drop_after"), method="POST", path=r"/issues$")
    services.plan_scan(scan(github_repo, X))
    result = services.sync_repository(github_repo.pk)
    assert result.failed == 1 and github.issue_count("acme/app") == 1  # created, answer lost
    row = TrackerIssue.objects.get(repository=github_repo)
    assert row.sync_state == "pending" and row.last_error and row.external_id == ""
    TrackerIssue.objects.filter(pk=row.pk).update(next_attempt_at=None)  # the backoff has passed
    services.sync_repository(github_repo.pk)
    row.refresh_from_db()
    assert github.issue_count("acme/app") == 1
    assert row.sync_state == "synced" and row.external_id == "1"


def test_an_erroring_tracker_gets_one_call_per_sync_not_one_per_row(github, github_repo):
    github.add_fault(Fault("status", status=503), method="POST", path=r"/issues$", times=100)
    services.plan_scan(scan(github_repo, X, Y, Z))
    result = services.sync_repository(github_repo.pk)
    # The tracker, not the row, is in trouble: the worker goes back to other repositories after the first answer
    # and comes back after the back-off; the other two rows are still pending, untried.
    assert result.failed == 1 and len(github.requests_to("POST", r"/issues$")) == 1
    assert result.retry_in is not None and result.retry_in > 0
    assert sorted(TrackerIssue.objects.values_list("sync_state", "attempts")) == [
        ("pending", 0), ("pending", 0), ("pending", 1)]
    # Each waiting issue says why (the Issues page shows it), and none is due before the back-off.
    assert all("503" in error for error in TrackerIssue.objects.values_list("last_error", flat=True))
    assert services.sync_repository(github_repo.pk).done == 0
    assert len(github.requests_to("POST", r"/issues$")) == 1


def test_a_tracker_whose_slots_are_taken_is_left_for_later(github, github_repo, settings):
    from trackers import pacing
    from trackers import services as tracker_services

    settings.CERTIFAI_TRACKER_CONCURRENCY = 1
    services.plan_scan(scan(github_repo, X))
    tracker = tracker_services.tracker_settings(github_repo.tracker)
    with pacing.sync_slot(tracker, 60):  # another worker is syncing with this GitHub
        result = services.sync_repository(github_repo.pk)
    assert result.busy and result.done == 0 and 0 < result.retry_in <= 10
    assert github.requests_to("POST", r"/issues$") == []
    assert services.sync_repository(github_repo.pk).done == 1  # the slot is free again


def test_transient_errors_retry_then_fail_visibly(github, github_repo):
    github.add_fault(Fault("status", status=502), method="POST", path=r"/issues$", times=100)
    services.plan_scan(scan(github_repo, X))
    for _ in range(services.MAX_ATTEMPTS):
        TrackerIssue.objects.update(next_attempt_at=None)
        services.sync_repository(github_repo.pk)
    row = TrackerIssue.objects.get()
    assert row.sync_state == "failed" and "502" in row.last_error
    assert row.attempts == services.MAX_ATTEMPTS
    github.clear_faults()
    assert services.retry_failed(github_repo.pk, force=True) == 1
    services.sync_repository(github_repo.pk)
    row.refresh_from_db()
    assert row.sync_state == "synced" and github.issue_count("acme/app") == 1


def test_wrong_token_pauses_the_repository(github, github_repo):
    from trackers import services as tracker_services

    config = TrackerConfig.objects.get(repository=github_repo)
    tracker_services.save_tracker(github_repo, {"type": "github", "repository": "acme/app",
                                                "token": "ghp_wrong", "api_url": github.url})
    services.plan_scan(scan(github_repo, X, Y))
    before = len(github.requests)
    result = services.sync_repository(github_repo.pk)
    assert result.paused and len(github.requests) == before + 1  # one call, then it stops
    config.refresh_from_db()
    assert config.sync_paused and "token" in config.sync_error
    assert services.sync_repository(github_repo.pk).paused and len(github.requests) == before + 1
    assert TrackerIssue.objects.filter(sync_state="pending").count() == 1
    assert TrackerIssue.objects.filter(sync_state="failed").count() == 1


def test_rate_limit_is_respected(github, github_repo):
    github.add_fault(Fault("rate_limit", retry_after=30), method="POST")
    services.plan_scan(scan(github_repo, X))
    result = services.sync_repository(github_repo.pk)
    assert result.retry_in and result.retry_in >= 30
    row = TrackerIssue.objects.get()
    assert row.sync_state == "pending" and row.attempts == 0 and row.next_attempt_at is not None


def test_moved_code_keeps_its_issue(github, github_repo):
    old = parsed("B201", "bad/vulpy.py", 55, "high", snippet="app.run(debug=True)")
    new = parsed("B201", "bad/vulpy.py", 60, "high", snippet="app.run(debug=True)")
    services.plan_scan(scan(github_repo, old))
    services.sync_repository(github_repo.pk)
    moved_scan = scan(github_repo, new)
    plan = services.plan_scan(moved_scan)
    assert plan["planned_move"] == 1 and plan["planned_close"] == 0 and plan["planned_create"] == 0
    services.sync_repository(github_repo.pk)
    assert github.issue_count("acme/app") == 1
    row = TrackerIssue.objects.get()
    new_finding = Finding.objects.get(start_line=60)
    assert row.finding == new_finding and row.state == "open"
    comments = github.comments_of("acme/app", int(row.external_id))
    assert any("bad/vulpy.py:60" in c and new_finding.fingerprint in c for c in comments)


def test_code_that_moved_before_its_issue_was_filed_gets_an_issue_of_its_own(github, github_repo):
    # The first scan's issue is claimed but not filed yet (or being filed) when the second scan moves the code:
    # the old issue keeps the content and marker it is filed with, and is closed once filed; the new location
    # gets its own issue. Every issue's marker is the fingerprint of the row that filed it: no lookup can miss.
    old = parsed("B201", "bad/vulpy.py", 55, "high", snippet="app.run(debug=True)")
    new = parsed("B201", "bad/vulpy.py", 60, "high", snippet="app.run(debug=True)")
    services.plan_scan(scan(github_repo, old))
    plan = services.plan_scan(scan(github_repo, new))
    assert plan["planned_move"] == 0 and plan["planned_create"] == 1
    services.sync_repository(github_repo.pk)
    services.sync_repository(github_repo.pk)  # the close queued once the old issue was filed
    assert github.issue_count("acme/app") == 2
    for row in TrackerIssue.objects.select_related("finding"):
        issue = github.issue("acme/app", int(row.external_id))
        assert row.fingerprint == row.finding.fingerprint and f"certifai:fingerprint={row.fingerprint}" in issue["body"]
        assert row.sync_state == "synced"
        assert issue["state"] == ("open" if row.finding.start_line == 60 else "closed"), row.finding.start_line


def test_planning_statements_grow_with_batches_not_findings(github_repo):
    from django.db import connection
    from django.db.models import CharField
    from django.db.models.functions import Cast
    from django.test.utils import CaptureQueriesContext

    def statements(n: int) -> tuple[int, dict]:
        TrackerIssue.objects.all().delete()
        Finding.objects.all().delete()
        before = [parsed(f"rule-{i % 7}", f"src/m{i % 5}.py", i + 1, "high", snippet=f"call_{i}(x)") for i in range(n)]
        services.plan_scan(scan(github_repo, *before))
        TrackerIssue.objects.update(sync_state="synced", pending_action="", state="open",
                                    external_id=Cast("id", CharField()))
        # Every finding's code moved down 1,000 lines, and one in ten was fixed while another was added.
        after = [parsed(f.rule_id, f.file_path, f.start_line + 1000, "high", snippet=f.snippet)
                 for i, f in enumerate(before) if i % 10]
        after += [parsed("rule-new", "src/new.py", i + 1, "high") for i in range(n // 10)]
        second = scan(github_repo, *after)
        with CaptureQueriesContext(connection) as ctx:
            planned = services.plan_scan(second)
        return len(ctx.captured_queries), planned

    small, small_plan = statements(20)
    large, large_plan = statements(400)
    assert small_plan == {"planned_create": 2, "planned_reopen": 0, "planned_close": 2, "planned_move": 18}
    assert large_plan == {"planned_create": 40, "planned_reopen": 0, "planned_close": 40, "planned_move": 360}
    assert large == small, (small, large)  # 400 moved findings: the same statements as 18


def test_two_plans_of_one_scan_claim_once(github, github_repo):
    first = scan(github_repo, X, Y)
    assert services.plan_scan(first)["planned_create"] == 2
    assert services.plan_scan(first)["planned_create"] == 0
    assert TrackerIssue.objects.count() == 2
