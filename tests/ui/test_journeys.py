"""A new user's journeys through Certifai in a real browser, against fake GitHub and Jira servers.

The scan upload runs the pipeline in-process (tests/conftest.py sets Celery's task_always_eager), so the
issues exist in the fake tracker when the upload's page comes back.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from findings.models import Finding
from issues.models import TrackerIssue

from .conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

SCAN = "bandit/vulpy__scan1-baseline.bandit.json"
GITHUB_TOKEN = "ghp_BrowserTestToken0123456789abcdefXYZ"


def nav(page, name: str):
    """A link of the sidebar."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def add_repository(ui, name: str, tracker_label: str, fields: dict[str, str], min_severity: str = "High") -> None:
    """Fill in the repository form as a person would, checking that only the chosen tracker's fields show."""
    page = ui.page
    nav(page, "Repositories").click()
    page.wait_for_url("**/repositories/")
    ui.visit("repositories-empty")
    page.get_by_role("link", name="Add repository").first.click()
    ui.visit("repository-form")
    # Before a tracker is chosen, no tracker section (and no issue settings) is shown.
    for section in ("github", "gitlab", "gitea", "jira"):
        expect(page.locator(f'[data-tracker-fields="{section}"]')).to_be_hidden()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Web address").fill(f"https://github.com/{name}")
    page.get_by_role("combobox", name="Tracker", exact=True).select_option(label=tracker_label)
    chosen = tracker_label.lower()
    for section in ("github", "gitlab", "gitea", "jira"):
        locator = page.locator(f'[data-tracker-fields="{section}"]')
        (expect(locator).to_be_visible if section == chosen else expect(locator).to_be_hidden)()
    section = page.locator(f'[data-tracker-fields="{chosen}"]')
    for label, value in fields.items():
        section.get_by_label(label).fill(value)
    page.get_by_label("Minimum severity").select_option(label=min_severity)
    page.get_by_label("Labels").fill("security, certifai")
    ui.visit(f"repository-form-{chosen}-filled")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def check_connection(ui, expected: str) -> None:
    page = ui.page
    page.get_by_role("button", name="Test connection").click()
    status = page.get_by_role("status").filter(has_text="Connection")
    expect(status).to_contain_text("Connection works.")
    expect(status).to_contain_text(expected)
    ui.visit("connection-tested")


def upload_scan(ui, data_dir) -> None:
    page = ui.page
    page.get_by_label("Scan file").set_input_files(str(data_dir / SCAN))
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url(re.compile(r".*\?scan=\d+#upload-result$"))
    result = page.locator("#upload-result [role=status]")
    expect(result).to_contain_text("imported")
    expect(result).to_contain_text("new")
    ui.visit("scan-uploaded")


def issue_rows(page):
    return page.locator("table tbody tr[id^=issue-]")


def check_issues_table(ui, tracker: str, expected_count: int) -> None:
    """The issues list: rows with the tracker's badge, sorting both ways, filters, search."""
    page = ui.page
    nav(page, "Issues").click()
    page.wait_for_url("**/issues/")
    expect(page.locator('a.nav-link[aria-current="page"]')).to_have_text("Issues")
    expect(issue_rows(page)).to_have_count(expected_count)
    badges = page.locator(f"tbody .tracker-badge.tracker-{tracker.lower()}")
    expect(badges).to_have_count(expected_count)
    expect(badges.first).to_have_text(tracker)
    ui.visit("issues")

    # sort by title, ascending then descending
    page.get_by_role("link", name=re.compile(r"^Title")).click()
    page.wait_for_url(re.compile(r"sort=title"))
    expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("Title")
    titles = page.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert titles == sorted(titles), titles
    page.get_by_role("link", name=re.compile(r"^Title")).click()
    page.wait_for_url(re.compile(r"sort=-title"))
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Title")
    assert page.locator("tbody tr td:nth-child(3)").all_inner_texts() == sorted(titles, reverse=True)
    ui.visit("issues-sorted")

    # filter by tracker and status, keep the sort
    filters = page.get_by_role("search", name="Filter issues")
    filters.get_by_label("Tracker").select_option(label=tracker)
    filters.get_by_label("Status").select_option(label="Open")
    filters.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=open"))
    assert "sort=-title" in page.url
    expect(issue_rows(page)).to_have_count(expected_count)
    filters = page.get_by_role("search", name="Filter issues")
    filters.get_by_label("Status").select_option(label="Closed")
    filters.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=closed"))
    expect(issue_rows(page)).to_have_count(0)
    expect(page.get_by_text("No issues match these filters.")).to_be_visible()
    ui.visit("issues-filtered-empty")

    # search in titles
    filters = page.get_by_role("search", name="Filter issues")
    filters.get_by_label("Status").select_option(label="All statuses")
    filters.get_by_label("Search").fill("vulpy-ssl")
    filters.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"q=vulpy-ssl"))
    found = page.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert 1 <= len(found) < expected_count, found  # bad/vulpy-ssl.py and good/vulpy-ssl.py
    for text in found:
        assert "vulpy-ssl" in text.lower(), text
    page.get_by_role("link", name="Reset").click()
    expect(issue_rows(page)).to_have_count(expected_count)


def follow_linked_issue(ui, expected_url_pattern: str) -> None:
    """Open a finding from the issues table, then its Linked Issue link (it opens the tracker in a new tab)."""
    page = ui.page
    first_row = issue_rows(page).first
    first_row.locator("td:nth-child(3) a").click()
    page.wait_for_url(re.compile(r"/findings/\d+/$"))
    expect(page.locator('a.nav-link[aria-current="page"]')).to_have_text("Findings")
    section = page.locator("#linked-issue")
    expect(section.get_by_role("heading", name="Linked issue")).to_be_visible()
    link = section.get_by_role("link", name=re.compile(r"^Open in "))
    href = link.get_attribute("href")
    assert re.fullmatch(expected_url_pattern, href), href
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener noreferrer"
    finding_id = int(re.search(r"/findings/(\d+)/", page.url).group(1))
    issue = TrackerIssue.objects.get(finding_id=finding_id)
    assert href == issue.url
    ui.visit("finding-detail")
    # The tracker's page opens in a new tab. (A fake tracker serves an API, not that page: what matters is
    # that the new tab went to the issue's address.)
    navigations: list[str] = []
    page.context.on("request", lambda req: req.is_navigation_request() and navigations.append(req.url))
    with page.context.expect_page() as popup_info:
        link.click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert href in navigations, navigations
    popup.close()


def test_github_journey(ui, browser_user, data_dir, tracker_hosts):
    from trackers.fakes.github import FakeGitHub

    with FakeGitHub(tokens={GITHUB_TOKEN: {"login": "certifai-bot", "repos": {"acme/vulpy": "write"}}}) as fake:
        log_in(ui)
        ui.visit("dashboard")
        add_repository(ui, "acme/vulpy", "GitHub", {
            "Repository (required)": "acme/vulpy", "Token (required)": GITHUB_TOKEN, "API URL": fake.url,
        })
        page = ui.page
        assert GITHUB_TOKEN not in page.content()
        ui.visit("repository-detail")
        check_connection(ui, "acme/vulpy")
        upload_scan(ui, data_dir)

        expected = Finding.objects.filter(repository__name="acme/vulpy", severity__in=["high", "critical"]).count()
        assert expected > 0
        assert fake.issue_count("acme/vulpy") == expected
        assert TrackerIssue.objects.filter(sync_state="synced").count() == expected
        check_issues_table(ui, "GitHub", expected)
        follow_linked_issue(ui, re.escape(fake.url) + r"/acme/vulpy/issues/\d+")

        # the rest of the app, as the new user would look around
        for link, label in (("Findings", "findings"), ("Scans", "scans"), ("Dashboard", "dashboard-after")):
            nav(page, link).click()
            expect(page.locator('a.nav-link[aria-current="page"]')).to_have_text(link)
            ui.visit(label)
        expect(page.locator(".tracker-badge.tracker-github").first).to_be_visible()
        assert GITHUB_TOKEN not in page.content()


def test_jira_journey(ui, browser_user, data_dir, tracker_hosts):
    from trackers.fakes.jira import FakeJira

    with FakeJira(deployment="cloud", email="bot@example.com", token="jira-browser-token", project_key="SEC") as fake:
        log_in(ui)
        add_repository(ui, "acme/vulpy-jira", "Jira", {
            "Project key (required)": "SEC", "Instance URL (required)": fake.url, "Email": "bot@example.com",
            "Token (required)": "jira-browser-token", "Issue type": "Bug",
        })
        ui.visit("repository-detail")
        check_connection(ui, "SEC")
        upload_scan(ui, data_dir)
        expected = Finding.objects.filter(repository__name="acme/vulpy-jira", severity__in=["high", "critical"]).count()
        assert TrackerIssue.objects.filter(sync_state="synced", tracker="jira").count() == expected
        check_issues_table(ui, "Jira", expected)
        follow_linked_issue(ui, re.escape(fake.url) + r"/browse/SEC-\d+")


def test_editing_keeps_the_token_and_finding_below_threshold_can_get_an_issue(ui, browser_user, data_dir,
                                                                              tracker_hosts):
    """Edit the tracker (token left blank keeps it), and file an issue for a finding below the threshold."""
    from trackers.fakes.github import FakeGitHub

    with FakeGitHub(tokens={GITHUB_TOKEN: {"login": "certifai-bot", "repos": {"acme/vulpy": "write"}}}) as fake:
        log_in(ui)
        add_repository(ui, "acme/vulpy", "GitHub", {
            "Repository (required)": "acme/vulpy", "Token (required)": GITHUB_TOKEN, "API URL": fake.url,
        }, min_severity="Critical")
        upload_scan(ui, data_dir)
        assert fake.issue_count("acme/vulpy") == 0  # nothing is critical in this scan
        page = ui.page
        page.get_by_role("link", name="Edit repository and tracker").click()
        token = page.locator('[data-tracker-fields="github"]').get_by_label(re.compile(r"^Token"))
        expect(token).to_have_value("")
        expect(page.locator('[data-tracker-fields="github"] .badge', has_text="saved")).to_be_visible()
        ui.visit("repository-edit")
        # an error is shown next to its field, and the field describes itself with it
        page.locator('[data-tracker-fields="github"]').get_by_label(re.compile(r"^Repository")).fill("not a repo")
        page.get_by_role("button", name="Save").click()
        field = page.locator("#id_tracker-github_repository")
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#id_tracker-github_repository_error")).to_contain_text(
            re.compile('expected "owner/name"', re.I))
        ui.visit("repository-form-error")
        field.fill("acme/vulpy")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("acme/vulpy")
        check_connection(ui, "acme/vulpy")  # the saved token still works

        nav(page, "Findings").click()
        filters = page.get_by_role("search", name="Filter findings")
        filters.get_by_label("Severity").select_option(label="High")
        filters.get_by_role("button", name="Filter").click()
        page.wait_for_url(re.compile(r"severity=high"))
        ui.visit("findings-high")
        page.locator("tbody tr td:nth-child(2) a").first.click()
        section = page.locator("#linked-issue")
        expect(section).to_contain_text("below the repository's threshold")
        ui.visit("finding-below-threshold")
        section.get_by_role("button", name="Create issue").click()
        expect(page.get_by_role("status").filter(has_text="Issue requested")).to_be_visible()
        link = page.locator("#linked-issue").get_by_role("link", name=re.compile(r"^Open in GitHub"))
        expect(link).to_have_attribute("href", re.compile(re.escape(fake.url) + r"/acme/vulpy/issues/1$"))
        ui.visit("finding-issue-created")
        assert fake.issue_count("acme/vulpy") == 1


def test_failed_issue_shows_its_error_and_is_retried_in_place(ui, browser_user, data_dir, tracker_hosts):
    """GitHub answers 503 to every create: the issues wait with their error; Retry (htmx) files one in place."""
    from trackers.fakes.base import Fault
    from trackers.fakes.github import FakeGitHub

    with FakeGitHub(tokens={GITHUB_TOKEN: {"login": "certifai-bot", "repos": {"acme/vulpy": "write"}}}) as fake:
        fake.add_fault(Fault("status", status=503), method="POST", path=r"/issues$", times=1000)
        log_in(ui)
        add_repository(ui, "acme/vulpy", "GitHub", {
            "Repository (required)": "acme/vulpy", "Token (required)": GITHUB_TOKEN, "API URL": fake.url,
        })
        upload_scan(ui, data_dir)
        assert fake.issue_count("acme/vulpy") == 0
        page = ui.page
        nav(page, "Issues").click()
        page.wait_for_url("**/issues/")
        rows = issue_rows(page)
        count = rows.count()
        assert count > 0
        for i in range(count):
            expect(rows.nth(i)).to_contain_text("Pending")
            expect(rows.nth(i).locator(".issue-error")).to_contain_text("503")
        ui.visit("issues-pending-with-errors")

        fake.clear_faults()
        first = rows.first
        row_id = first.get_attribute("id")
        url_before = page.url
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))
        first.get_by_role("button", name=re.compile(r"^Retry")).click()
        row = page.locator(f"#{row_id}")
        expect(row).to_contain_text("Synced")
        expect(row.locator(".tracker-badge")).to_have_text("GitHub")
        expect(row.get_by_role("link", name=re.compile(r"^Open in GitHub"))).to_have_attribute(
            "href", re.compile(re.escape(fake.url) + r"/acme/vulpy/issues/1$"))
        assert page.url == url_before and navigations == []  # swapped in place, no page load
        expect(rows).to_have_count(count)
        expect(rows.nth(1)).to_contain_text("Pending")
        assert fake.issue_count("acme/vulpy") == 1
        ui.visit("issues-one-retried")
