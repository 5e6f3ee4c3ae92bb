"""Every page: login required, renders for a logged-in user, highlights its section, never shows a token."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from .factories import CANARY_TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(f):
    """A repository with a tracker (token: the canary), scans, findings and issues in every state."""
    repo = f.repository("acme/webapp")
    f.tracker(repo, "github", min_severity="medium")
    scan = f.scan(repo)
    linked = f.finding(repo, "critical", seen_in=[scan])
    pending = f.finding(repo, "high", seen_in=[scan])
    failed = f.finding(repo, "medium", seen_in=[scan])
    below = f.finding(repo, "low", seen_in=[scan])
    f.issue(linked)
    f.issue(pending, sync="pending", last_error="GitHub answered 502; will retry")
    f.issue(failed, sync="failed", last_error="GitHub: Validation Failed (labels)")
    other = f.repository("acme/jira-side")
    f.tracker(other, "jira", token=CANARY_TOKEN)
    f.scan(other, status="failed", error="runs[0].results: expected a list")
    return {"repo": repo, "other": other, "scan": scan, "linked": linked, "pending": pending, "failed": failed,
            "below": below}


def page_urls(world) -> dict[str, str]:
    repo = world["repo"]
    return {
        "dashboard": reverse("dashboard"),
        "repositories": reverse("repository-list"),
        "repository-detail": reverse("repository-detail", args=[repo.pk]),
        "repository-add": reverse("repository-add"),
        "repository-edit": reverse("repository-edit", args=[repo.pk]),
        "repository-edit-jira": reverse("repository-edit", args=[world["other"].pk]),
        "scans": reverse("scan-list"),
        "findings": reverse("finding-list"),
        "finding-linked": reverse("finding-detail", args=[world["linked"].pk]),
        "finding-pending": reverse("finding-detail", args=[world["pending"].pk]),
        "finding-failed": reverse("finding-detail", args=[world["failed"].pk]),
        "finding-below": reverse("finding-detail", args=[world["below"].pk]),
        "issues": reverse("issue-list"),
    }


SECTION = {
    "dashboard": "Dashboard", "repositories": "Repositories", "repository-detail": "Repositories",
    "repository-add": "Repositories", "repository-edit": "Repositories", "repository-edit-jira": "Repositories",
    "scans": "Scans", "findings": "Findings", "finding-linked": "Findings", "finding-pending": "Findings",
    "finding-failed": "Findings", "finding-below": "Findings", "issues": "Issues",
}


def current_nav(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m).strip()
            for m in re.findall(r'<a class="nav-link active"[^>]*aria-current="page">(.*?)</a>', html, re.S)]


def test_finding_detail_url_is_the_one_the_pipeline_links_to(world):
    from issues.services import finding_url

    assert finding_url(world["linked"]).endswith(reverse("finding-detail", args=[world["linked"].pk]))
    assert reverse("finding-detail", args=[world["linked"].pk]) == f"/findings/{world['linked'].pk}/"


def test_every_page_redirects_anonymous_users_to_login(client, world):
    login = reverse("login")
    for name, url in page_urls(world).items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith(f"{login}?next="), name


def test_posts_require_login_too(client, world):
    for url in (reverse("issue-retry", args=[world["pending"].tracker_issue.pk]),
                reverse("finding-issue-create", args=[world["below"].pk]),
                reverse("repository-tracker-test", args=[world["repo"].pk]),
                reverse("repository-detail", args=[world["repo"].pk]),
                reverse("repository-add")):
        response = client.post(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url


def test_every_page_renders_with_its_section_highlighted_and_no_token(web, world):
    for name, url in page_urls(world).items():
        response = web.get(url)
        assert response.status_code == 200, name
        html = response.content.decode()
        assert current_nav(html) == [SECTION[name]], name
        assert "<h1" in html, name
        assert CANARY_TOKEN not in html, name
        # CSP-ready: no inline script, no inline event handler.
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), name
        assert not re.search(r"\son[a-z]+=\"", html), name


def test_login_page_and_logout_by_post(client, user):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'for="id_username"' in html and 'for="id_password"' in html
    response = client.post(reverse("login"), {"username": "webuser", "password": "pw-web-user-123"})
    assert response.status_code == 302 and response["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert f'action="{reverse("logout")}"' in dashboard.content.decode()
    assert client.get(reverse("logout")).status_code == 405  # logout is POST only
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_reported_next_to_the_form(client, user):
    response = client.post(reverse("login"), {"username": "webuser", "password": "nope"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'role="alert"' in html and 'aria-describedby="login-error"' in html


def test_dashboard_shows_severity_counts_issue_counts_scans_and_failed_syncs(web, world):
    html = web.get(reverse("dashboard")).content.decode()
    assert "Open findings by severity" in html
    assert "Issues per tracker" in html
    assert "tracker-github" in html
    assert "GitHub: Validation Failed (labels)" in html  # failed sync listed with its error
    assert "runs[0].results: expected a list" in html  # the failed scan among recent scans


def test_dashboard_lists_paused_trackers(web, world):
    config = world["repo"].tracker
    config.sync_paused, config.sync_error = True, "Sync paused: Bad credentials."
    config.save()
    html = web.get(reverse("dashboard")).content.decode()
    assert "Sync paused: Bad credentials." in html


def test_dashboard_counts_are_kept_briefly_and_renewed_by_a_completed_scan(web, f, data_dir,
                                                                           django_capture_on_commit_callbacks):
    from findings.services import import_scan

    repo = f.repository("acme/counted")

    def open_count() -> int:
        html = web.get(reverse("dashboard")).content.decode()
        return int(re.search(r"(\d+) open</span>", html).group(1))

    f.finding(repo, "high")
    assert open_count() == 1
    f.finding(repo, "high")  # written behind the dashboard's back: not counted for up to 30 s
    assert open_count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        import_scan(repository=repo, path=data_dir / "bandit/vulpy__scan1-baseline.bandit.json")
    assert open_count() == 2 + 49  # a completed scan renews the counts at once
