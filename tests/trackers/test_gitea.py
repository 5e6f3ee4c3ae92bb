"""Gitea: the fake against Gitea's documented behaviour, then the adapter over HTTP against the fake.

No database: run with `pytest -p no:django tests/trackers/test_gitea.py` until settings exist.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from trackers.adapters.base import (
    ExternalIssue,
    IssueContent,
    TrackerAuthError,
    TrackerConfigError,
    TrackerRateLimited,
    TrackerSettings,
    TrackerTransientError,
    fingerprint_marker,
)
from trackers.adapters.gitea import GiteaAdapter, is_accepted_risk_label
from trackers.adapters.registry import get_adapter
from trackers.fakes.base import Fault
from trackers.fakes.gitea import FakeGitea

TOKEN = "gitea-secret-0123456789abcdef"
# The fakes listen on 127.0.0.1 over http: allowed explicitly, as CERTIFAI_TRACKER_ALLOWED_HOSTS would.
ALLOWED = ("127.0.0.1",)
REPO = "acme/webapp"
BOT = "certifai-bot"
FP = "a" * 64
SCOPES = ("write:issue", "read:repository", "read:user")


@pytest.fixture
def server():
    fake = FakeGitea()
    fake.add_token(BOT, TOKEN, scopes=SCOPES)
    fake.add_repo(REPO, members={BOT: "write"})
    fake.start()
    yield fake
    fake.stop()


def adapter_for(server: FakeGitea, **overrides) -> GiteaAdapter:
    values = {"type": "gitea", "token": TOKEN, "repository": REPO, "instance_url": server.url, "timeout": 2.0,
              "allowed_hosts": ALLOWED}
    values.update(overrides)
    return GiteaAdapter(TrackerSettings(**values))


@pytest.fixture
def adapter(server) -> GiteaAdapter:
    return adapter_for(server)


def content(fingerprint: str = FP, severity: str = "high", **overrides) -> IssueContent:
    values = {
        "fingerprint": fingerprint,
        "severity": severity,
        "rule_id": "python.sql-injection",
        "rule_title": "SQL injection",
        "description": "User input reaches a SQL query.",
        "file_path": "app/db.py",
        "start_line": 42,
        "end_line": 42,
        "tool": "semgrep",
        "finding_url": "http://certifai.test/findings/1",
        "snippet": "cursor.execute(q % x)",
    }
    values.update(overrides)
    return IssueContent(**values)


def api(server: FakeGitea, method: str, path: str, token: str | None = TOKEN, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers.setdefault("Authorization", f"token {token}")
    return requests.request(method, f"{server.url}/api/v1{path}", headers=headers, timeout=5, **kwargs)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the fake, against Gitea's documented behaviour -----------------------------------------------


class TestFakeGitea:
    def test_token_in_header_bearer_or_query(self, server):
        for kwargs in (
            {"headers": {"Authorization": f"token {TOKEN}"}},
            {"headers": {"Authorization": f"Bearer {TOKEN}"}},
            {"params": {"token": TOKEN}},
            {"params": {"access_token": TOKEN}},
        ):
            response = api(server, "GET", "/user", token=None, **kwargs)
            assert response.status_code == 200, kwargs
            assert response.json()["login"] == BOT

    def test_bad_or_missing_token_is_401_with_message_and_swagger_url(self, server):
        bad = api(server, "GET", "/user", token="wrong")
        assert bad.status_code == 401
        assert bad.json()["message"] and bad.json()["url"].endswith("/api/swagger")
        missing = api(server, "GET", "/user", token=None)
        assert missing.status_code == 401 and missing.json()["message"] == "token is required"

    def test_query_tokens_can_be_switched_off(self):
        with FakeGitea(allow_query_token=False) as fake:
            fake.add_token(BOT, TOKEN)
            assert api(fake, "GET", "/user", token=None, params={"token": TOKEN}).status_code == 401

    def test_missing_scope_is_403_naming_it(self, server):
        server.add_token(BOT, "read-only-token", scopes=("read:issue", "read:repository"))
        user = api(server, "GET", "/user", token="read-only-token")
        assert user.status_code == 403
        assert user.json()["message"] == "token does not have at least one of required scope(s): [read:user]"
        create = api(server, "POST", f"/repos/{REPO}/issues", token="read-only-token", json={"title": "x"})
        assert create.status_code == 403 and "[write:issue]" in create.json()["message"]

    def test_repository_visibility_and_permissions(self, server):
        server.add_token("stranger", "stranger-token")
        assert api(server, "GET", f"/repos/{REPO}", token="stranger-token").status_code == 404
        assert api(server, "GET", "/repos/acme/unknown").status_code == 404
        server.add_repo("acme/public", private=False)
        public = api(server, "GET", "/repos/acme/public", token="stranger-token").json()
        assert public["permissions"] == {"admin": False, "push": False, "pull": True}
        mine = api(server, "GET", f"/repos/{REPO}").json()
        assert mine["permissions"]["push"] is True and mine["has_issues"] is True
        assert mine["full_name"] == REPO and mine["html_url"] == f"{server.url}/{REPO}"

    def test_issue_json_fields(self, server):
        created = api(server, "POST", f"/repos/{REPO}/issues", json={"title": "T", "body": "B"})
        assert created.status_code == 201
        issue = created.json()
        for key in (
            "id",
            "number",
            "title",
            "body",
            "state",
            "labels",
            "html_url",
            "url",
            "created_at",
            "updated_at",
            "closed_at",
            "user",
            "pull_request",
        ):
            assert key in issue
        assert issue["number"] == 1 and issue["state"] == "open" and issue["closed_at"] is None
        assert issue["pull_request"] is None and issue["user"]["login"] == BOT
        assert issue["html_url"] == f"{server.url}/{REPO}/issues/1"

    def test_timestamps_are_rfc3339_in_the_server_zone(self):
        with FakeGitea(tz=timezone(timedelta(hours=2))) as fake:
            fake.add_token(BOT, TOKEN)
            fake.add_repo(REPO, members={BOT: "write"})
            issue = api(fake, "POST", f"/repos/{REPO}/issues", json={"title": "T"}).json()
            assert issue["created_at"].endswith("+02:00")

    def test_labels_are_ids_names_rejected_unknown_ids_dropped(self, server):
        label = server.add_label(REPO, "bug")
        names = api(server, "POST", f"/repos/{REPO}/issues", json={"title": "T", "labels": ["bug"]})
        assert names.status_code == 422 and "labels" in names.json()["message"]
        unknown = api(server, "POST", f"/repos/{REPO}/issues", json={"title": "T", "labels": [label.id, 99999]})
        assert unknown.status_code == 201
        assert [lab["name"] for lab in unknown.json()["labels"]] == ["bug"]
        assert api(server, "POST", f"/repos/{REPO}/issues", json={"body": "no title"}).status_code == 422

    def test_reader_may_file_but_its_labels_are_dropped(self, server):
        server.add_repo("acme/public", private=False)
        label = server.add_label("acme/public", "bug")
        server.add_token("reader", "reader-token", scopes=("write:issue",))
        created = api(
            server, "POST", "/repos/acme/public/issues", token="reader-token", json={"title": "T", "labels": [label.id]}
        )
        assert created.status_code == 201 and created.json()["labels"] == []
        assert (
            api(
                server,
                "POST",
                "/repos/acme/public/labels",
                token="reader-token",
                json={"name": "x", "color": "#ffffff"},
            ).status_code
            == 403
        )

    def test_create_label_normalises_colour_and_allows_duplicate_names(self, server):
        first = api(server, "POST", f"/repos/{REPO}/labels", json={"name": "certifai", "color": "#ABC"})
        assert first.status_code == 201 and first.json()["color"] == "aabbcc"
        second = api(server, "POST", f"/repos/{REPO}/labels", json={"name": "certifai", "color": "00aabb"})
        assert second.status_code == 201 and second.json()["id"] != first.json()["id"]
        bad = api(server, "POST", f"/repos/{REPO}/labels", json={"name": "x", "color": "blue"})
        assert bad.status_code == 422
        listed = api(server, "GET", f"/repos/{REPO}/labels").json()
        assert [lab["name"] for lab in listed] == ["certifai", "certifai"]

    def test_list_pages_are_capped_at_50_with_total_and_link_headers(self, server):
        for n in range(120):
            server.add_issue(REPO, f"issue {n}")
        page = api(server, "GET", f"/repos/{REPO}/issues", params={"limit": 100})
        assert len(page.json()) == 50
        assert page.headers["X-Total-Count"] == "120"
        assert 'rel="next"' in page.headers["Link"] and 'rel="last"' in page.headers["Link"]
        assert "page=2" in page.headers["Link"] and page.headers["Link"].startswith(f"<{server.url}/api/v1/")
        assert len(api(server, "GET", f"/repos/{REPO}/issues").json()) == 30  # DEFAULT_PAGING_NUM
        last = api(server, "GET", f"/repos/{REPO}/issues", params={"limit": 50, "page": 3})
        assert len(last.json()) == 20
        assert 'rel="next"' not in last.headers["Link"] and 'rel="prev"' in last.headers["Link"]
        numbers = [i["number"] for i in page.json()]
        assert numbers == sorted(numbers, reverse=True)  # newest first

    def test_list_filters(self, server):
        server.add_issue(REPO, "open bug", labels=["bug"])
        server.add_issue(REPO, "closed bug", labels=["bug"], state="closed")
        server.add_issue(REPO, "plain")
        server.add_pull_request(REPO, "a pull request")

        def titles(**params):
            response = api(server, "GET", f"/repos/{REPO}/issues", params=params)
            assert response.status_code == 200, response.text
            return sorted(i["title"] for i in response.json())

        assert titles() == ["a pull request", "open bug", "plain"]  # state defaults to open
        assert titles(state="all", labels="bug") == ["closed bug", "open bug"]
        assert titles(state="all", labels="bug,no-such-label") == ["closed bug", "open bug"]  # any of
        assert titles(state="closed") == ["closed bug"]
        assert titles(type="issues") == ["open bug", "plain"]
        assert titles(labels="no-such-label") == ["a pull request", "open bug", "plain"]  # discarded
        future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert titles(since=future) == []
        assert api(server, "GET", f"/repos/{REPO}/issues", params={"since": "yesterday"}).status_code == 422

    def test_since_filters_on_update_time(self, server):
        old = server.add_issue(REPO, "old", created=int(time.time()) - 86400)
        cutoff = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert api(server, "GET", f"/repos/{REPO}/issues", params={"since": cutoff}).json() == []
        api(server, "POST", f"/repos/{REPO}/issues/{old.number}/comments", json={"body": "bump"})
        assert [i["title"] for i in api(server, "GET", f"/repos/{REPO}/issues", params={"since": cutoff}).json()] == [
            "old"
        ]

    def test_keyword_search_lags_behind_writes(self, server):
        server.search_lag = math.inf
        api(server, "POST", f"/repos/{REPO}/issues", json={"title": "T", "body": f"x {FP} y"})
        assert api(server, "GET", f"/repos/{REPO}/issues", params={"q": FP}).json() == []
        assert len(api(server, "GET", f"/repos/{REPO}/issues").json()) == 1  # the database is consistent
        server.flush_index()
        assert len(api(server, "GET", f"/repos/{REPO}/issues", params={"q": FP}).json()) == 1

    def test_edit_answers_201_and_sets_closed_at(self, server):
        api(server, "POST", f"/repos/{REPO}/issues", json={"title": "T"})
        closed = api(server, "PATCH", f"/repos/{REPO}/issues/1", json={"state": "closed"})
        assert closed.status_code == 201 and closed.json()["state"] == "closed" and closed.json()["closed_at"]
        reopened = api(server, "PATCH", f"/repos/{REPO}/issues/1", json={"state": "open"})
        assert reopened.json()["state"] == "open" and reopened.json()["closed_at"] is None
        assert api(server, "PATCH", f"/repos/{REPO}/issues/9", json={"state": "open"}).status_code == 404

    def test_comments_and_issue_labels(self, server):
        api(server, "POST", f"/repos/{REPO}/issues", json={"title": "T"})
        comment = api(server, "POST", f"/repos/{REPO}/issues/1/comments", json={"body": "hello"})
        assert comment.status_code == 201 and comment.json()["body"] == "hello"
        assert api(server, "POST", f"/repos/{REPO}/issues/1/comments", json={}).status_code == 422
        label = server.add_label(REPO, "bug")
        added = api(server, "POST", f"/repos/{REPO}/issues/1/labels", json={"labels": [label.id]})
        assert added.status_code == 200 and [lab["name"] for lab in added.json()] == ["bug"]
        assert api(server, "DELETE", f"/repos/{REPO}/issues/1/labels/{label.id}").status_code == 204
        assert server.label_names(REPO, 1) == []

    def test_issues_disabled_and_archived(self, server):
        server.add_repo("acme/no-issues", has_issues=False, members={BOT: "write"})
        assert api(server, "GET", "/repos/acme/no-issues").json()["has_issues"] is False
        assert api(server, "GET", "/repos/acme/no-issues/issues").status_code == 404
        server.add_repo("acme/old", archived=True, members={BOT: "write"})
        assert api(server, "POST", "/repos/acme/old/issues", json={"title": "T"}).status_code == 423


# --- the adapter ------------------------------------------------------------------------------------


def test_registered_under_gitea(server):
    adapter = get_adapter(TrackerSettings(type="gitea", token=TOKEN, repository=REPO, instance_url=server.url,
                                          allowed_hosts=ALLOWED))
    assert isinstance(adapter, GiteaAdapter)
    assert adapter.type == "gitea" and adapter.display_name == "Gitea"


def test_create_issue(server, adapter):
    issue = adapter.create_issue(content())
    assert isinstance(issue, ExternalIssue)
    assert (issue.tracker, issue.external_id, issue.state, issue.status) == ("gitea", "1", "open", "open")
    assert issue.url == f"{server.url}/{REPO}/issues/1"
    assert issue.title == "[HIGH] SQL injection in app/db.py:42"
    assert fingerprint_marker(FP) in issue.body
    assert issue.created is not None and issue.created.tzinfo is not None and issue.created.utcoffset() == timedelta(0)
    assert server.label_names(REPO, 1) == ["certifai", "severity:high"]
    post = server.requests_to("POST", r"/issues$")[0]
    assert all(isinstance(x, int) for x in post.json()["labels"])
    assert post.headers["authorization"] == f"token {TOKEN}"


def test_labels_are_created_once_with_colours_and_reused(server):
    adapter = adapter_for(server, labels=("security", "team-a"))
    adapter.create_issue(content())
    labels = {lab.name: lab for lab in server.repo(REPO).labels.values()}
    assert set(labels) == {"certifai", "severity:high", "security", "team-a"}
    assert labels["severity:high"].color == "#d93f0b" and labels["certifai"].description
    label_posts = len(server.requests_to("POST", r"/webapp/labels$"))
    label_gets = len(server.requests_to("GET", r"/webapp/labels$"))
    adapter.create_issue(content("b" * 64))
    assert len(server.requests_to("POST", r"/webapp/labels$")) == label_posts == 4
    assert len(server.requests_to("GET", r"/webapp/labels$")) == label_gets == 1
    assert server.label_names(REPO, 2) == ["certifai", "severity:high", "security", "team-a"]


def test_existing_labels_are_found_on_every_page_and_not_duplicated(server):
    for n in range(60):
        server.add_label(REPO, f"area-{n:02d}")
    server.add_label(REPO, "certifai")
    server.add_label(REPO, "Severity:High")  # same name in another case: reused, not duplicated
    adapter = adapter_for(server)
    adapter.create_issue(content())
    assert server.requests_to("POST", r"/webapp/labels$") == []
    assert len(server.requests_to("GET", r"/webapp/labels$")) == 2  # 62 labels: two pages of 50
    assert server.label_names(REPO, 1) == ["certifai", "Severity:High"]


def test_labels_lost_since_caching_are_put_back(server, adapter):
    adapter.create_issue(content())
    doomed = next(lab for lab in server.repo(REPO).labels.values() if lab.name == "severity:high")
    del server.repo(REPO).labels[doomed.id]  # a person deleted it; Gitea will silently drop its id
    adapter.create_issue(content("b" * 64))
    assert server.label_names(REPO, 2) == ["certifai", "severity:high"]


def test_get_issue_converts_time_to_utc():
    with FakeGitea(tz=timezone(timedelta(hours=2))) as fake:
        fake.add_token(BOT, TOKEN)
        fake.add_repo(REPO, members={BOT: "write"})
        seeded = fake.add_issue(REPO, "Seeded", body="body", user=BOT)
        issue = adapter_for(fake).get_issue(str(seeded.number))
        assert issue.created == datetime.fromtimestamp(seeded.created, UTC)
        assert issue.created.tzinfo == UTC and issue.body == "body" and issue.title == "Seeded"


def test_get_unknown_issue_is_a_config_error_naming_it(adapter):
    with pytest.raises(TrackerConfigError, match="#999"):
        adapter.get_issue("999")
    with pytest.raises(TrackerConfigError, match="not a Gitea issue number"):
        adapter.get_issue("ABC-1")


def test_close_issue_comments_then_closes(server, adapter):
    issue = adapter.create_issue(content())
    closed = adapter.close_issue(issue.external_id, "Fixed in abc123.")
    assert closed.state == "closed" and closed.status == "closed" and closed.accepted_risk is False
    writes = [r for r in server.requests if r.method in ("POST", "PATCH")][-2:]
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in writes] == [("POST", "comments"), ("PATCH", "1")]
    assert writes[1].json() == {"state": "closed"}
    assert server.issue(REPO, 1).comments[0].body == "Fixed in abc123."


def test_close_as_accepted_risk_labels_it(server, adapter):
    issue = adapter.create_issue(content())
    closed = adapter.close_issue(issue.external_id, "Risk accepted by the team.", accepted_risk=True)
    assert closed.state == "closed" and closed.accepted_risk is True
    assert "accepted-risk" in server.label_names(REPO, 1)
    assert adapter.get_issue(issue.external_id).accepted_risk is True


def test_fixed_after_accepted_risk_loses_the_label(server, adapter):
    issue = adapter.create_issue(content())
    adapter.close_issue(issue.external_id, "accepted", accepted_risk=True)
    reopened = adapter.reopen_issue(issue.external_id, "Back.")
    assert reopened.state == "open" and reopened.accepted_risk is False
    closed = adapter.close_issue(issue.external_id, "Fixed.")
    assert closed.accepted_risk is False
    assert "accepted-risk" not in server.label_names(REPO, 1)


def test_reopen_issue(server, adapter):
    issue = adapter.create_issue(content())
    adapter.close_issue(issue.external_id, "Fixed.")
    reopened = adapter.reopen_issue(issue.external_id, "The finding is back in scan 7.")
    assert reopened.state == "open" and server.issue(REPO, 1).state == "open"
    assert server.issue(REPO, 1).comments[-1].body == "The finding is back in scan 7."


@pytest.mark.parametrize(
    "name", ["wontfix", "Won't Fix", "Reviewed/Won't Fix", "not planned", "Accepted-Risk", "won\u2019t fix"]
)
def test_human_labels_mean_accepted_risk_when_closed(server, adapter, name):
    seeded = server.add_issue(REPO, "Seeded", labels=[name], state="closed")
    assert adapter.get_issue(str(seeded.number)).accepted_risk is True
    assert is_accepted_risk_label(name)
    reopened = server.add_issue(REPO, "Open one", labels=[name])
    assert adapter.get_issue(str(reopened.number)).accepted_risk is False
    assert not is_accepted_risk_label("bug") and not is_accepted_risk_label("Kind/Security")


def test_comment(server, adapter):
    issue = adapter.create_issue(content())
    assert adapter.comment(issue.external_id, "Moved to line 50.") is None
    assert server.issue(REPO, 1).comments[0].body == "Moved to line 50."


def test_find_issue_lists_recent_issues_when_search_lags(server, adapter):
    server.search_lag = math.inf
    started = datetime.now(UTC)
    adapter.create_issue(content())
    assert adapter.find_issue(FP) is None  # the index hasn't seen it: search alone would miss it
    found = adapter.find_issue(FP, created_after=started)
    assert found is not None and found.external_id == "1"
    listing = next(r for r in server.requests_to("GET", r"/issues$") if r.arg("since"))
    assert listing.arg("labels") == "certifai" and listing.arg("state") == "all" and listing.arg("type") == "issues"
    since = datetime.fromisoformat(listing.arg("since"))
    assert since <= started - timedelta(minutes=5)


def test_find_issue_by_search_without_created_after(server, adapter):
    adapter.create_issue(content())
    server.add_issue(REPO, "Someone quotes it", body=f"see {FP}")  # mentions the fingerprint, no marker
    found = adapter.find_issue(FP)
    assert found is not None and found.external_id == "1"
    assert adapter.find_issue("c" * 64) is None


def test_find_issue_ignores_issues_without_the_marker(server, adapter):
    server.add_issue(REPO, "Quote", body=f"certifai said {FP}", labels=["certifai"])
    assert adapter.find_issue(FP, created_after=datetime.now(UTC) - timedelta(hours=1)) is None


def test_find_issue_reads_markers_in_comments(server, adapter):
    old = adapter.create_issue(content("b" * 64))
    adapter.comment(old.external_id, f"Moved to line 50.\n{fingerprint_marker(FP)}")
    found = adapter.find_issue(FP)
    assert found is not None and found.external_id == old.external_id


def test_find_issue_pages_beyond_50(server, adapter):
    server.search_lag = math.inf
    started = datetime.now(UTC)
    adapter.create_issue(content())  # the oldest of 61: on the second page, newest first
    for n in range(60):
        server.add_issue(REPO, f"other {n}", body=fingerprint_marker(f"{n:064d}"), labels=["certifai"])
    found = adapter.find_issue(FP, created_after=started)
    assert found is not None and found.external_id == "1"
    assert [r.arg("page") for r in server.requests_to("GET", r"/issues$")] == ["1", "2"]  # found: no search


def test_find_issue_tolerates_a_server_clock_behind(server):
    with FakeGitea(clock=lambda: time.time() - 300, search_lag=math.inf) as fake:
        fake.add_token(BOT, TOKEN)
        fake.add_repo(REPO, members={BOT: "write"})
        adapter = adapter_for(fake)
        started = datetime.now(UTC)
        adapter.create_issue(content())
        found = adapter.find_issue(FP, created_after=started)
        assert found is not None and found.external_id == "1"


def test_list_issues_batches_through_pages(server, adapter):
    for n in range(120):
        server.add_issue(REPO, f"issue {n + 1}", labels=["certifai"], state="closed" if n == 9 else "open")
    issues = adapter.list_issues(["120", "60", "10"])
    assert [i.external_id for i in issues] == ["120", "60", "10"]
    assert [i.state for i in issues] == ["open", "open", "closed"]
    pages = server.requests_to("GET", r"/issues$")
    assert [r.arg("page") for r in pages] == ["1", "2", "3"] and pages[0].arg("labels") == "certifai"
    assert server.requests_to("GET", r"/issues/\d+$") == []  # no call per issue


def test_list_issues_leaves_out_unknown_and_finds_unlabelled(server, adapter):
    for n in range(3):
        server.add_issue(REPO, f"ours {n}", labels=["certifai"])
    server.add_issue(REPO, "label removed by a person")
    issues = adapter.list_issues(["1", "4", "77", "not-a-number"])
    assert [i.external_id for i in issues] == ["1", "4"]
    assert adapter.list_issues([]) == []


def test_list_issues_follows_the_total_when_the_server_caps_pages_lower():
    with FakeGitea(max_response_items=20) as fake:
        fake.add_token(BOT, TOKEN)
        fake.add_repo(REPO, members={BOT: "write"})
        for n in range(45):
            fake.add_issue(REPO, f"issue {n + 1}", labels=["certifai"])
        issues = adapter_for(fake).list_issues(["1", "2", "45"])
        assert [i.external_id for i in issues] == ["1", "2", "45"]
        assert fake.requests_to("GET", r"/issues/\d+$") == []


def test_list_issues_on_a_missing_repository_is_a_config_error(server):
    with pytest.raises(TrackerConfigError, match="acme/gone"):
        adapter_for(server, repository="acme/gone").list_issues(["1"])


# --- errors -------------------------------------------------------------------------------------------


def test_wrong_token_is_an_auth_error_after_one_request(server):
    adapter = adapter_for(server, token="not-the-token")
    with pytest.raises(TrackerAuthError) as error:
        adapter.get_issue("1")
    assert str(error.value) == (
        "Gitea rejected the token (401): create an access token with the write:issue and read:repository scopes."
    )
    assert len(server.requests) == 1


def test_missing_scope_is_an_auth_error_naming_it(server):
    server.add_token(BOT, "no-write", scopes=("read:issue", "read:repository"))
    with pytest.raises(TrackerAuthError, match=r"write:issue"):
        adapter_for(server, token="no-write").comment("1", "x")


def test_no_write_permission_is_an_auth_error(server):
    server.add_repo("acme/public", private=False)
    server.add_issue("acme/public", "Someone else's")
    server.add_token("reader", "reader-token", scopes=("write:issue", "read:repository"))
    adapter = adapter_for(server, token="reader-token", repository="acme/public")
    with pytest.raises(TrackerAuthError, match="write access"):
        adapter.close_issue("1", "")


def test_unknown_repository_is_a_config_error_naming_it(server):
    with pytest.raises(TrackerConfigError, match="acme/nope"):
        adapter_for(server, repository="acme/nope").create_issue(content())


def test_422_is_a_config_error_with_giteas_message(server, adapter):
    server.add_fault(
        Fault("status", status=422, body={"message": "[Title]: MaxSize", "url": "x"}), method="POST", path=r"/issues$"
    )
    with pytest.raises(TrackerConfigError, match=r"\[Title\]: MaxSize"):
        adapter.create_issue(content())


def test_rate_limited_with_retry_after(server, adapter):
    server.add_fault(Fault("rate_limit", retry_after=7), method="GET")
    with pytest.raises(TrackerRateLimited) as error:
        adapter.get_issue("1")
    assert error.value.retry_after == 7 and error.value.retryable
    assert len(server.requests) == 1  # not retried, not slept on


def test_502_on_get_is_retried(server, adapter):
    server.add_issue(REPO, "Seeded")
    server.add_fault(Fault("status", status=502), method="GET", path=r"/issues/1$")
    assert adapter.get_issue("1").title == "Seeded"
    assert len(server.requests_to("GET", r"/issues/1$")) == 2


def test_503_on_post_is_not_retried(server, adapter):
    adapter.create_issue(content())  # labels cached
    server.add_fault(Fault("status", status=503), method="POST", path=r"/issues$")
    with pytest.raises(TrackerTransientError) as error:
        adapter.create_issue(content("b" * 64))
    assert error.value.retryable and error.value.outcome_unknown
    assert len(server.requests_to("POST", r"/issues$")) == 2  # one for each create, none retried


def test_get_that_keeps_failing_is_transient(server, adapter):
    server.add_fault(Fault("status", status=503), method="GET", times=3)
    with pytest.raises(TrackerTransientError) as error:
        adapter.get_issue("1")
    assert error.value.outcome_unknown is False
    assert len(server.requests) == 3


def test_slow_post_is_transient_and_outcome_unknown(server):
    adapter = adapter_for(server, timeout=0.3)
    adapter.create_issue(content())
    server.add_fault(Fault("delay", seconds=1.0), method="POST", path=r"/issues$")
    with pytest.raises(TrackerTransientError, match="did not answer within 0.3 s") as error:
        adapter.create_issue(content("b" * 64))
    assert error.value.outcome_unknown is True
    assert len(server.requests_to("POST", r"/issues$")) == 2


def test_slow_get_is_retried_then_transient(server):
    adapter = adapter_for(server, timeout=0.2)
    server.add_fault(Fault("delay", seconds=0.5), method="GET", times=3)
    with pytest.raises(TrackerTransientError) as error:
        adapter.get_issue("1")
    assert error.value.outcome_unknown is False
    assert len(server.requests) == 3


def test_dropped_answer_after_creation_then_find_issue(server, adapter):
    server.search_lag = math.inf  # the search index hasn't seen the new issue either
    started = datetime.now(UTC)
    server.add_fault(Fault("drop_after"), method="POST", path=r"/issues$")
    with pytest.raises(TrackerTransientError) as error:
        adapter.create_issue(content())
    assert error.value.outcome_unknown is True
    assert len(server.repo(REPO).issues) == 1  # it was filed
    assert len(server.requests_to("POST", r"/issues$")) == 1  # and not twice
    found = adapter.find_issue(FP, created_after=started)
    assert found is not None and found.external_id == "1"


def test_connection_refused_is_transient_and_nothing_was_sent():
    adapter = GiteaAdapter(
        TrackerSettings(
            type="gitea", token=TOKEN, repository=REPO, instance_url=f"http://127.0.0.1:{closed_port()}", timeout=1,
            allowed_hosts=ALLOWED,
        )
    )
    with pytest.raises(TrackerTransientError, match="could not connect") as error:
        adapter.comment("1", "hello")
    assert error.value.outcome_unknown is False


def test_html_instead_of_json_is_a_config_error(server, adapter):
    server.add_fault(Fault("status", status=200, body="<html>login</html>"), method="GET")
    with pytest.raises(TrackerConfigError, match="instance URL"):
        adapter.get_issue("1")


def test_bad_settings_are_config_errors(server):
    with pytest.raises(TrackerConfigError, match="owner/name"):
        adapter_for(server, repository="webapp").get_issue("1")
    with pytest.raises(TrackerConfigError, match="instance URL"):
        adapter_for(server, instance_url="").get_issue("1")


def test_instance_url_with_api_suffix_is_accepted(server):
    server.add_issue(REPO, "Seeded")
    assert adapter_for(server, instance_url=server.url + "/api/v1/").get_issue("1").title == "Seeded"


# --- test_connection ----------------------------------------------------------------------------------


def test_connection_ok(server, adapter):
    result = adapter.test_connection()
    assert result.ok, result.message
    assert BOT in result.message and REPO in result.message


def test_connection_ok_without_read_user_scope(server):
    server.add_token(BOT, "minimal", scopes=("write:issue", "read:repository"))
    result = adapter_for(server, token="minimal").test_connection()
    assert result.ok, result.message


def test_connection_bad_token(server):
    result = adapter_for(server, token="wrong").test_connection()
    assert not result.ok
    assert "401" in result.message and "write:issue" in result.message and "read:repository" in result.message


def test_connection_missing_repository(server):
    result = adapter_for(server, repository="acme/nope").test_connection()
    assert not result.ok and "acme/nope" in result.message and "not found" in result.message


def test_connection_read_only(server):
    server.grant(BOT, REPO, "read")
    result = adapter_for(server).test_connection()
    assert not result.ok and "write access" in result.message and BOT in result.message


def test_connection_issues_disabled(server):
    server.add_repo("acme/no-issues", has_issues=False, members={BOT: "write"})
    result = adapter_for(server, repository="acme/no-issues").test_connection()
    assert not result.ok and "Issues are disabled" in result.message


def test_connection_archived(server):
    server.add_repo("acme/old", archived=True, members={BOT: "write"})
    result = adapter_for(server, repository="acme/old").test_connection()
    assert not result.ok and "archived" in result.message


def test_connection_token_without_repository_scope(server):
    server.add_token(BOT, "issues-only", scopes=("write:issue",))
    result = adapter_for(server, token="issues-only").test_connection()
    assert not result.ok and "read:repository" in result.message


def test_connection_never_raises():
    down = GiteaAdapter(
        TrackerSettings(
            type="gitea", token=TOKEN, repository=REPO, instance_url=f"http://127.0.0.1:{closed_port()}", timeout=1,
            allowed_hosts=ALLOWED,
        )
    )
    result = down.test_connection()
    assert not result.ok and "could not connect" in result.message
    unset = GiteaAdapter(TrackerSettings(type="gitea", token=TOKEN, repository="", instance_url=""))
    assert not unset.test_connection().ok


# --- the token stays secret -----------------------------------------------------------------------------


def test_token_never_in_messages_or_logs(server, caplog):
    caplog.set_level(logging.DEBUG)
    adapter = adapter_for(server, timeout=0.3)
    messages = [adapter.test_connection().message]
    adapter.create_issue(content())
    adapter.find_issue(FP, created_after=datetime.now(UTC))
    adapter.list_issues(["1", "2", "3"])
    faults = [
        Fault("status", status=500, body={"message": f"internal error for token {TOKEN}"}),
        Fault("status", status=403, body={"message": f"no, {TOKEN}"}),
        Fault("status", status=422, body={"message": f"bad {TOKEN}"}),
        Fault("rate_limit", retry_after=1),
        Fault("drop_after"),
        Fault("delay", seconds=0.6),
    ]
    for fault in faults:
        server.add_fault(fault, method="POST")
        with pytest.raises(Exception) as error:  # noqa: B017 - each is a TrackerError; the text is what matters
            adapter.comment("1", "hello")
        messages.append(str(error.value))
        messages.append(repr(error.value))
    wrong = adapter_for(server, token="wrong-" + TOKEN)
    messages.append(wrong.test_connection().message)
    for text in messages:
        assert TOKEN not in text
    assert "***" in messages[2]  # Gitea's message is kept, the token in it masked
    assert TOKEN not in caplog.text
    assert any("urllib3" in record.name for record in caplog.records)  # the HTTP layer did log
    assert TOKEN not in repr(adapter.settings) and TOKEN not in repr(adapter._session.auth)
    for request in server.requests:
        assert "token" not in request.query and "access_token" not in request.query
