"""The number of SQL queries of a page does not grow with the rows it shows (5 rows vs 50)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from findings.models import FindingChange

pytestmark = pytest.mark.django_db

# Every page stays within this, whatever the number of rows (a guard against N+1 queries).
MAX_QUERIES = 15


def add_rows(f, repos, anchor, n):
    """n scans, findings and issues in all states; each new scan resolves or reopens the anchor finding."""
    for i in range(n):
        repo = repos[i % len(repos)]
        scan = f.scan(repo)
        FindingChange.objects.create(scan=scan, finding=anchor, kind=("resolved", "reappeared")[i % 2])
        finding = f.finding(repo, ("critical", "high", "medium", "low", "info")[i % 5], seen_in=[scan])
        sync = ("synced", "pending", "failed")[i % 3]
        f.issue(finding, sync=sync, last_error="" if sync == "synced" else "boom")


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_query_counts_do_not_grow_with_rows(web, f, django_assert_max_num_queries):
    repos = [f.repository(f"acme/q-{i}") for i in range(3)]
    f.tracker(repos[0], "github")
    f.tracker(repos[1], "jira")
    # Every scan changes the anchor finding's state: its history lists 5, then 50 changes.
    first = f.finding(repos[0], "high")
    f.issue(first)
    add_rows(f, repos, first, 5)

    def pages():
        return {
            "dashboard": reverse("dashboard"),
            "repositories": reverse("repository-list"),
            "repository": reverse("repository-detail", args=[repos[0].pk]),
            "scans": reverse("scan-list") + "?sort=-created_at",
            "findings": reverse("finding-list") + "?sort=severity",
            "finding": reverse("finding-detail", args=[first.pk]),
            "issues": reverse("issue-list") + "?sort=tracker",
        }

    for url in pages().values():  # warm caches (content types, sessions) first
        queries(web, url)
    small = {name: queries(web, url) for name, url in pages().items()}
    add_rows(f, repos + [f.repository(f"acme/q-{i}") for i in range(3, 8)], first, 45)
    large = {name: queries(web, url) for name, url in pages().items()}
    print("\nqueries per page (5 rows -> 50 rows):", {k: (small[k], large[k]) for k in small})
    assert large == small
    for url in pages().values():
        with django_assert_max_num_queries(MAX_QUERIES):
            web.get(url)
