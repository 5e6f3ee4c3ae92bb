"""The Issues page: columns, badges, sorting, filters, search, pagination, empty state, retry."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from issues.models import TrackerIssue

pytestmark = pytest.mark.django_db


def rows(html: str) -> list[str]:
    return re.findall(r'<tr id="issue-(\d+)"', html)


@pytest.fixture
def issues(f):
    gh_repo, jira_repo = f.repository("acme/gh"), f.repository("acme/jira")
    f.tracker(gh_repo, "github")
    f.tracker(jira_repo, "jira")
    now = timezone.now()
    made = {
        "gh_open": f.issue(f.finding(gh_repo, title="SQL injection"), title="[HIGH] SQL injection in db.py:3",
                           external_id="12", url="https://github.com/acme/app/issues/12", status="open",
                           created=now - timedelta(days=3)),
        "gh_closed": f.issue(f.finding(gh_repo, title="Weak hash"), title="[LOW] Weak hash in crypto.py:9",
                             external_id="7", url="https://github.com/acme/app/issues/7", status="closed",
                             state="closed", created=now - timedelta(days=5)),
        "jira_progress": f.issue(f.finding(jira_repo, title="Shell injection"), tracker="jira",
                                 title="[CRITICAL] Shell injection in run.py:1", external_id="SEC-3",
                                 url="https://jira.example.com/browse/SEC-3", status="In Progress",
                                 created=now - timedelta(days=1)),
        "jira_failed": f.issue(f.finding(jira_repo, title="Hardcoded password"), tracker="jira", sync="failed",
                               last_error="Jira: Field 'labels' cannot contain spaces"),
        "gh_pending": f.issue(f.finding(gh_repo, title="Pickle load"), sync="pending",
                              last_error="GitHub answered 502 Bad Gateway"),
    }
    return made


def test_empty_state_explains_how_to_get_issues(web):
    html = web.get(reverse("issue-list")).content.decode()
    assert "No issues yet" in html
    assert "Configure a tracker on a repository" in html
    assert "Import a scan" in html


def test_columns_badges_statuses_and_links(web, issues):
    html = web.get(reverse("issue-list")).content.decode()
    for header in ("Tracker", "External ID", "Title", "Status", "Created", "Link"):
        assert re.search(rf"<th[^>]*>\s*<a[^>]*>{header}\b", html), header
    assert '<i class="bi bi-github" aria-hidden="true"></i> GitHub' in html
    assert '<i class="bi bi-kanban" aria-hidden="true"></i> Jira' in html
    assert ">Open</span>" in html and ">Closed</span>" in html and ">In Progress</span>" in html
    link = re.search(r'<a href="https://jira.example.com/browse/SEC-3"[^>]*>', html).group(0)
    assert 'target="_blank"' in link and 'rel="noopener noreferrer"' in link
    # pending and failed: their error and a Retry button
    assert "Jira: Field &#x27;labels&#x27; cannot contain spaces" in html
    assert "GitHub answered 502 Bad Gateway" in html
    assert len(re.findall(r'action="/issues/\d+/retry/"', html)) == 2
    # a pending issue shows the title it will be filed under, marked as not filed yet
    assert "Pickle load" in html and "(not filed yet)" in html


@pytest.mark.parametrize("sort", ["tracker", "external_id", "title", "repository", "status", "created", "url",
                                  "sync_state"])
def test_every_column_sorts_both_ways(web, issues, sort):
    up = web.get(reverse("issue-list"), {"sort": sort})
    down = web.get(reverse("issue-list"), {"sort": f"-{sort}"})
    assert up.status_code == down.status_code == 200
    assert 'aria-sort="ascending"' in up.content.decode()
    assert 'aria-sort="descending"' in down.content.decode()
    assert sorted(rows(up.content.decode())) == sorted(rows(down.content.decode()))


def test_sort_orders(web, issues):
    ids = {k: str(v.pk) for k, v in issues.items()}
    by_title = rows(web.get(reverse("issue-list"), {"sort": "title"}).content.decode())
    assert by_title.index(ids["jira_progress"]) < by_title.index(ids["gh_open"])  # [CRITICAL] < [HIGH]
    by_created = rows(web.get(reverse("issue-list"), {"sort": "-created"}).content.decode())
    assert by_created[:3] == [ids["jira_progress"], ids["gh_open"], ids["gh_closed"]]  # unfiled ones last


def test_filters_and_search(web, issues):
    ids = {k: str(v.pk) for k, v in issues.items()}
    url = reverse("issue-list")

    def shown(**params):
        return set(rows(web.get(url, params).content.decode()))

    assert shown(tracker="jira") == {ids["jira_progress"], ids["jira_failed"]}
    assert shown(status="open") == {ids["gh_open"], ids["jira_progress"]}
    assert shown(status="closed") == {ids["gh_closed"]}
    assert shown(status="failed") == {ids["jira_failed"]}
    assert shown(status="pending") == {ids["gh_pending"]}
    assert shown(repository=issues["gh_open"].repository_id) == {ids["gh_open"], ids["gh_closed"], ids["gh_pending"]}
    assert shown(q="injection") == {ids["gh_open"], ids["jira_progress"]}
    assert shown(q="pickle") == {ids["gh_pending"]}  # unfiled: searched by its finding's title
    assert shown(q="injection", tracker="github") == {ids["gh_open"]}
    filtered_out = web.get(url, {"q": "nothing-like-this"}).content.decode()
    assert "No issues match these filters." in filtered_out and "No issues yet" not in filtered_out


def test_pagination_keeps_filters(web, f):
    repo = f.repository()
    f.tracker(repo)
    for _ in range(30):
        f.issue(f.finding(repo))
    first = web.get(reverse("issue-list"), {"tracker": "github", "sort": "title"}).content.decode()
    assert len(rows(first)) == 25
    assert 'aria-current="page"' in first
    assert re.search(r'href="\?[^"]*page=2', first)
    assert "tracker=github" in re.search(r'href="(\?[^"]*page=2[^"]*)"', first).group(1)
    second = web.get(reverse("issue-list"), {"tracker": "github", "sort": "title", "page": 2}).content.decode()
    assert len(rows(second)) == 5


def test_retry_queues_the_issue_and_syncs(web, issues, no_sync):
    failed = issues["jira_failed"]
    TrackerIssue.objects.filter(pk=failed.pk).update(attempts=6)
    response = web.post(reverse("issue-retry", args=[failed.pk]), {"next": "/issues/?tracker=jira"})
    assert response.status_code == 302 and response["Location"] == "/issues/?tracker=jira"
    failed.refresh_from_db()
    assert failed.sync_state == "pending" and failed.attempts == 0
    assert no_sync == [failed.repository_id]


def test_retry_with_htmx_returns_the_row(web, issues, no_sync):
    pending = issues["gh_pending"]
    response = web.post(reverse("issue-retry", args=[pending.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith(f'<tr id="issue-{pending.pk}"')
    assert html.count("<tr") == 1
    assert "csrfmiddlewaretoken" in html  # the row's own retry form still works


def test_retry_refuses_get_and_foreign_next(web, issues, no_sync):
    url = reverse("issue-retry", args=[issues["gh_pending"].pk])
    assert web.get(url).status_code == 405
    response = web.post(url, {"next": "https://evil.example.com/"})
    assert response["Location"] == reverse("issue-list")


def test_retry_needs_csrf(client, user, issues):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    assert csrf_client.post(reverse("issue-retry", args=[issues["gh_pending"].pk])).status_code == 403
