"""Findings list (filters, search, sort, pagination), finding detail and its Linked Issue section."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from issues.models import TrackerIssue

pytestmark = pytest.mark.django_db


def rows(html: str) -> list[str]:
    return re.findall(r'href="/findings/(\d+)/"', html)


@pytest.fixture
def findings(f):
    web_repo, api_repo = f.repository("acme/webapp"), f.repository("acme/api")
    scan = f.scan(web_repo)
    return {
        "sqli": f.finding(web_repo, "critical", title="SQL injection", rule_id="B608", file_path="app/db.py",
                          seen_in=[scan]),
        "hash": f.finding(web_repo, "low", title="Weak MD5 hash", rule_id="B303", file_path="app/crypto.py"),
        "yaml": f.finding(api_repo, "medium", title="Unsafe yaml load", rule_id="B506", file_path="api/conf.py",
                          tool="Semgrep"),
        "fixed": f.finding(api_repo, "high", title="Assert used", rule_id="B101", file_path="api/checks.py",
                           status="resolved"),
    }


def test_filters_search_and_sort(web, findings):
    ids = {k: str(v.pk) for k, v in findings.items()}
    url = reverse("finding-list")

    def shown(**params):
        return rows(web.get(url, params).content.decode())

    assert set(shown()) == set(ids.values())
    assert set(shown(repository=findings["yaml"].repository_id)) == {ids["yaml"], ids["fixed"]}
    assert set(shown(severity="low")) == {ids["hash"]}
    assert set(shown(status="resolved")) == {ids["fixed"]}
    assert set(shown(tool="Semgrep")) == {ids["yaml"]}
    assert set(shown(q="injection")) == {ids["sqli"]}  # title
    assert set(shown(q="B506")) == {ids["yaml"]}  # rule
    assert set(shown(q="crypto.py")) == {ids["hash"]}  # path
    assert shown(sort="severity") == [ids["sqli"], ids["fixed"], ids["yaml"], ids["hash"]]
    assert shown(sort="-severity")[0] == ids["hash"]
    assert shown(sort="title")[0] == ids["fixed"]  # "Assert used"
    html = web.get(url, {"tool": "Semgrep"}).content.decode()
    assert '<option value="Semgrep" selected>Semgrep</option>' in html


def test_every_column_sorts(web, findings):
    for column in ("severity", "title", "rule_id", "repository", "location", "tool", "status", "created_at"):
        for sort in (column, f"-{column}"):
            response = web.get(reverse("finding-list"), {"sort": sort})
            assert response.status_code == 200, sort
            assert len(rows(response.content.decode())) == 4, sort


def test_pagination(web, f):
    repo = f.repository()
    for _ in range(27):
        f.finding(repo)
    assert len(rows(web.get(reverse("finding-list")).content.decode())) == 25
    assert len(rows(web.get(reverse("finding-list"), {"page": 2}).content.decode())) == 2


def test_detail_shows_the_finding(web, findings):
    finding = findings["sqli"]
    html = web.get(reverse("finding-detail", args=[finding.pk])).content.decode()
    assert "SQL injection" in html and "B608" in html and "Critical" in html
    assert "Something unsafe happens here." in html
    # file and line linked to the source when the repository URL is known
    assert f'href="https://github.com/acme/webapp/blob/main/app/db.py#L{finding.start_line}"' in html
    assert "First seen" in html and "Last seen" in html
    assert f"#{finding.first_scan_id}" in html  # the scans that changed it
    assert ">History<" in html


def test_detail_history_lists_what_each_scan_did(web, f):
    from findings.models import FindingChange

    repo = f.repository("acme/history")
    first, fixed, back, latest = (f.scan(repo) for _ in range(4))
    finding = f.finding(repo, "high", seen_in=[first, latest])
    FindingChange.objects.create(finding=finding, scan=fixed, kind="resolved")
    FindingChange.objects.create(finding=finding, scan=back, kind="reappeared")
    html = web.get(reverse("finding-detail", args=[finding.pk])).content.decode()
    history = html[html.index(">History<"):]
    events = re.findall(r"<tr><td>#(\d+)</td><td>([^<]+)</td>", history)
    assert events == [(str(latest.pk), "Last seen"), (str(back.pk), "Reappeared"), (str(fixed.pk), "Resolved"),
                      (str(first.pk), "First seen")]


def test_linked_issue_shown_with_badge_status_and_link(web, f, findings):
    repo = findings["sqli"].repository
    f.tracker(repo, "gitlab")
    f.issue(findings["sqli"], tracker="gitlab", external_id="31", title="[CRITICAL] SQL injection",
            url="https://gitlab.com/acme/webapp/-/issues/31", status="opened")
    html = web.get(reverse("finding-detail", args=[findings["sqli"].pk])).content.decode()
    section = html[html.index('id="linked-issue"'):]
    assert '<i class="bi bi-gitlab" aria-hidden="true"></i> GitLab' in section
    assert ">31<" in section and "[CRITICAL] SQL injection" in section and ">Open</span>" in section
    link = re.search(r'<a href="https://gitlab.com/acme/webapp/-/issues/31"[^>]*>', section).group(0)
    assert 'target="_blank"' in link and 'rel="noopener noreferrer"' in link
    assert "Create issue" not in section


def test_no_tracker_configured(web, findings):
    html = web.get(reverse("finding-detail", args=[findings["sqli"].pk])).content.decode()
    assert "no tracker is configured" in html
    assert "Create issue" not in html
    assert reverse("repository-edit", args=[findings["sqli"].repository_id]) in html


def test_below_threshold_offers_create_issue(web, f, findings):
    f.tracker(findings["hash"].repository, "github", min_severity="high")
    html = web.get(reverse("finding-detail", args=[findings["hash"].pk])).content.decode()
    assert "below the repository's threshold" in html and "<strong>High</strong> severity and above" in html
    assert f'action="{reverse("finding-issue-create", args=[findings["hash"].pk])}"' in html


def test_resolved_finding_without_issue(web, f, findings):
    f.tracker(findings["fixed"].repository, "jira")
    html = web.get(reverse("finding-detail", args=[findings["fixed"].pk])).content.decode()
    assert "this finding is <strong>resolved</strong>" in html


def test_pending_and_failed_show_error_and_retry(web, f, findings):
    repo = findings["sqli"].repository
    f.tracker(repo, "github")
    pending = f.issue(findings["sqli"], sync="pending", last_error="GitHub answered 503")
    failed = f.issue(findings["hash"], sync="failed", last_error="GitHub: Resource not accessible by integration")
    html = web.get(reverse("finding-detail", args=[findings["sqli"].pk])).content.decode()
    assert "Pending:" in html and "GitHub answered 503" in html
    assert f'action="{reverse("issue-retry", args=[pending.pk])}"' in html
    html = web.get(reverse("finding-detail", args=[findings["hash"].pk])).content.decode()
    assert "Failed:" in html and "Resource not accessible by integration" in html
    assert f'action="{reverse("issue-retry", args=[failed.pk])}"' in html


def test_retry_from_the_detail_page_comes_back_to_it(web, f, findings, no_sync):
    f.tracker(findings["sqli"].repository, "github")
    failed = f.issue(findings["sqli"], sync="failed", last_error="boom")
    detail = reverse("finding-detail", args=[findings["sqli"].pk])
    response = web.post(reverse("issue-retry", args=[failed.pk]), {"next": detail})
    assert response["Location"] == detail
    failed.refresh_from_db()
    assert failed.sync_state == "pending"


def test_create_issue_button(web, f, findings, no_sync):
    finding = findings["hash"]
    f.tracker(finding.repository, "github", min_severity="critical")
    response = web.post(reverse("finding-issue-create", args=[finding.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("finding-detail", args=[finding.pk])
    issue = TrackerIssue.objects.get(finding=finding)
    assert issue.sync_state == "pending" and issue.pending_action == "create" and issue.tracker == "github"
    assert no_sync == [finding.repository_id]
    html = web.get(response["Location"]).content.decode()
    assert "Issue requested" in html and "Pending:" in html
    # asking twice files nothing twice
    web.post(reverse("finding-issue-create", args=[finding.pk]))
    assert TrackerIssue.objects.filter(finding=finding).count() == 1


def test_create_issue_without_tracker_says_why(web, findings, no_sync):
    response = web.post(reverse("finding-issue-create", args=[findings["sqli"].pk]), follow=True)
    assert "No issue created: this repository has no tracker configured" in response.content.decode()
    assert not TrackerIssue.objects.exists() and no_sync == []


def test_scans_list(web, f):
    repo = f.repository("acme/scanned")
    ok = f.scan(repo, counts={"new": 3, "unchanged": 2, "reappeared": 1, "resolved": 4, "total": 6,
                              "issues_created": 3})
    bad = f.scan(repo, status="failed", error="runs: expected a list", counts={})
    html = web.get(reverse("scan-list")).content.decode()
    assert f'id="scan-{ok.pk}"' in html and f'id="scan-{bad.pk}"' in html
    assert "3 new" in html and "4 resolved" in html and "3 created" in html
    assert "runs: expected a list" in html
    only_failed = web.get(reverse("scan-list"), {"status": "failed"}).content.decode()
    assert f'id="scan-{ok.pk}"' not in only_failed and f'id="scan-{bad.pk}"' in only_failed
    for sort in ("id", "-repository", "tool", "file_name", "status", "error", "-created_at"):
        assert web.get(reverse("scan-list"), {"sort": sort}).status_code == 200
