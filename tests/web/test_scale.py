"""What the pages do to stay fast at 100,000 issues and 500,000 findings (bench/pages.py measures them):
bounded counts with lazy pages past the bound, the severity filter, the tools choices, the issue search,
the repository list's pages."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from findings import selectors
from findings.tables import BoundedCountPaginator

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(BoundedCountPaginator, "count_limit", 5)


def rows_of(html: str) -> list[str]:
    return re.findall(r"Finding number \d+", html)


def test_exact_count_below_the_limit(web, f):
    repo = f.repository()
    for _ in range(3):
        f.finding(repo)
    html = web.get(reverse("finding-list")).content.decode()
    assert "3 in all" in html
    assert "More than" not in html


def test_count_stops_at_the_limit_and_pages_go_on(web, f, small_limit):
    repo = f.repository()
    made = [f.finding(repo, "high") for _ in range(12)]
    first = web.get(reverse("finding-list") + "?per_page=2").content.decode()
    assert "More than 5" in first
    assert "in all" not in first
    assert len(rows_of(first)) == 2
    # Past the counted rows (5), pages are fetched lazily: page 5 holds findings 9 and 10, newest first.
    deep = web.get(reverse("finding-list") + "?per_page=2&page=5").content.decode()
    assert rows_of(deep) == [made[3].title, made[2].title]
    assert 'aria-current="page"' in deep
    # The last page: no "Next".
    last = web.get(reverse("finding-list") + "?per_page=2&page=6").content.decode()
    assert rows_of(last) == [made[1].title, made[0].title]
    assert "Next" not in last
    # Beyond the end: the last page known, not an error.
    beyond = web.get(reverse("finding-list") + "?per_page=2&page=50")
    assert beyond.status_code == 200


def test_issue_list_counts_are_bounded_too(web, f, small_limit):
    repo = f.repository()
    f.tracker(repo, "github")
    for _ in range(7):
        f.issue(f.finding(repo))
    html = web.get(reverse("issue-list")).content.decode()
    assert "More than 5" in html


def test_per_page_is_capped(web, f):
    repo = f.repository()
    for _ in range(3):
        f.finding(repo)
    response = web.get(reverse("finding-list") + "?per_page=100000")
    assert response.context["table"].paginator.per_page == BoundedCountPaginator.max_per_page


def test_severity_filter_by_rank(web, f):
    repo = f.repository()
    high = f.finding(repo, "high")
    low = f.finding(repo, "low")
    html = web.get(reverse("finding-list") + "?severity=high").content.decode()
    assert high.title in html
    assert low.title not in html


def test_tool_choices_are_the_users_tools_only(web, f, user):
    from teams.models import Team

    repo = f.repository()
    f.finding(repo, tool="Semgrep")
    f.finding(repo, tool="Bandit")
    f.finding(repo, tool="Bandit")
    other = f.repository(team=Team.objects.create(name="Other team"))
    f.finding(other, tool="Trivy")
    assert selectors.finding_tools(user) == ["Bandit", "Semgrep"]
    html = web.get(reverse("finding-list")).content.decode()
    assert '<option value="Semgrep">' in html
    assert "Trivy" not in html
    assert html.count(">All tools</option>") == 1


def test_issue_search_finds_filed_and_pending_issues_by_their_titles(web, f):
    repo = f.repository()
    f.tracker(repo, "github")
    filed = f.issue(f.finding(repo, title="SQL injection in login"), title="[HIGH] SQL injection in login")
    pending = f.issue(f.finding(repo, title="Command injection in backup"), sync="pending")
    other = f.issue(f.finding(repo, title="Weak hash"), title="[LOW] Weak hash")
    html = web.get(reverse("issue-list") + "?q=injection").content.decode()
    assert f'id="issue-{filed.pk}"' in html
    assert f'id="issue-{pending.pk}"' in html
    assert f'id="issue-{other.pk}"' not in html
    both = web.get(reverse("issue-list") + "?q=injection+backup").content.decode()
    assert f'id="issue-{pending.pk}"' in both
    assert f'id="issue-{filed.pk}"' not in both


def test_issue_newest_first_puts_unfiled_last(web, f):
    repo = f.repository()
    f.tracker(repo, "github")
    filed = f.issue(f.finding(repo))
    pending = f.issue(f.finding(repo), sync="pending")
    html = web.get(reverse("issue-list") + "?sort=-created").content.decode()
    assert html.index(f'id="issue-{filed.pk}"') < html.index(f'id="issue-{pending.pk}"')


def test_repository_list_is_paginated(web, f):
    from trackers.views import REPOSITORIES_PER_PAGE

    for i in range(REPOSITORIES_PER_PAGE + 2):
        f.repository(f"acme/page-{i:03d}")
    first = web.get(reverse("repository-list")).content.decode()
    assert "acme/page-000" in first
    assert f"acme/page-{REPOSITORIES_PER_PAGE:03d}" not in first
    assert 'aria-label="Repository pages"' in first
    second = web.get(reverse("repository-list") + "?page=2").content.decode()
    assert f"acme/page-{REPOSITORIES_PER_PAGE + 1:03d}" in second


def test_repository_list_open_counts(web, f):
    repo = f.repository("acme/counted")
    f.finding(repo, "high")
    f.finding(repo, "low")
    f.finding(repo, "low", status="resolved")
    response = web.get(reverse("repository-list"))
    [row] = [r for r in response.context["repositories"] if r.pk == repo.pk]
    assert row.open_findings == 2


def test_issue_rows_in_python_keep_the_templates_markup(web, f):
    """FastTable renders the rows in Python: pending and failed rows keep their error and Retry form (template)."""
    repo = f.repository()
    f.tracker(repo, "github")
    failed = f.issue(f.finding(repo), sync="failed", last_error="GitHub answered 503")
    synced = f.issue(f.finding(repo))
    html = web.get(reverse("issue-list")).content.decode()
    row = html[html.index(f'id="issue-{failed.pk}"'):]
    row = row[:row.index("</tr>")]
    assert 'class="small issue-error text-break">GitHub answered 503</span>' in row
    assert reverse("issue-retry", args=[failed.pk]) in row
    synced_row = html[html.index(f'id="issue-{synced.pk}"'):]
    assert "bi-check-circle" in synced_row[:synced_row.index("</tr>")]
    assert 'class="badge tracker-badge tracker-github"' in synced_row
