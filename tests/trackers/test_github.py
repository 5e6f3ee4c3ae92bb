"""GitHub adapter (real PyGithub over HTTP) against FakeGitHub, and FakeGitHub against GitHub's documented API.

Run without Django: /work/main/.venv/bin/pytest -p no:django tests/trackers/test_github.py -q
"""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from trackers.adapters.base import (
    IssueContent,
    TrackerAuthError,
    TrackerConfigError,
    TrackerError,
    TrackerNotFound,
    TrackerRateLimited,
    TrackerSettings,
    TrackerTransientError,
    fingerprint_marker,
)
from trackers.adapters.github import GitHubAdapter
from trackers.adapters.registry import adapter_class
from trackers.fakes.base import FakeServer, Fault, Response
from trackers.fakes.github import FakeGitHub

TOKEN = "ghp_SecretWriteToken0123456789abcdefXYZ"
# The fakes listen on 127.0.0.1 over http: allowed explicitly, as CERTIFAI_TRACKER_ALLOWED_HOSTS would.
ALLOWED = ("127.0.0.1",)
READ_TOKEN = "ghp_SecretReadToken0123456789abcdefXYZ"
TRIAGE_TOKEN = "ghp_SecretTriageToken0123456789abcdefXY"
OTHER_TOKEN = "ghp_SecretOtherToken0123456789abcdefXYZ"
WRONG_TOKEN = "ghp_WrongToken0123456789abcdefghijklmnop"
SECRETS = (TOKEN, READ_TOKEN, TRIAGE_TOKEN, OTHER_TOKEN, WRONG_TOKEN)
REPO = "acme/app"


def make_server(**options) -> FakeGitHub:
    return FakeGitHub(
        tokens={
            TOKEN: {"login": "certifai-bot", "repos": {REPO: "write"}},
            READ_TOKEN: {"login": "reader", "repos": {REPO: "read"}},
            TRIAGE_TOKEN: {"login": "triager", "repos": {REPO: "triage"}},
            OTHER_TOKEN: {"login": "other", "repos": {"other/secret": "admin"}},
        },
        **options,
    ).start()


@pytest.fixture
def server():
    fake = make_server()
    yield fake
    fake.stop()


@pytest.fixture(params=["", "/api/v3"], ids=["api.github.com", "enterprise"])
def prefix(request) -> str:
    return request.param


def make_adapter(server: FakeGitHub, prefix: str = "", **overrides) -> GitHubAdapter:
    values = {"type": "github", "token": TOKEN, "repository": REPO, "api_url": server.url + prefix, "timeout": 5.0,
              "allowed_hosts": ALLOWED}
    values.update(overrides)
    return GitHubAdapter(TrackerSettings(**values))


def content(fingerprint: str = "fp-0001", **overrides) -> IssueContent:
    values = {
        "fingerprint": fingerprint, "severity": "high", "rule_id": "python.sqli", "rule_title": "SQL injection",
        "description": "User input reaches a query.", "file_path": "app/db.py", "start_line": 12, "end_line": 14,
        "tool": "semgrep", "finding_url": "https://certifai.example/findings/1", "snippet": "cursor.execute(q)",
    }
    values.update(overrides)
    return IssueContent(**values)


def api(server: FakeGitHub, method: str, path: str, token: str | None = TOKEN, prefix: str = "", **kwargs):
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    url = path if path.startswith("http") else f"{server.url}{prefix}{path}"
    return requests.request(method, url, headers=headers, timeout=5, **kwargs)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the adapter: every operation ---------------------------------------------------------------------------


def test_registered_under_github():
    assert adapter_class("github") is GitHubAdapter
    assert GitHubAdapter.type == "github" and GitHubAdapter.display_name == "GitHub"


def test_issue_lifecycle(server, prefix):
    adapter = make_adapter(server, prefix, labels=("security", "certifai"))
    created = adapter.create_issue(content())

    assert created.tracker == "github" and created.external_id == "1"
    assert created.title == "[HIGH] SQL injection in app/db.py:12"
    assert created.url == f"{server.url}/acme/app/issues/1"  # the web page, never the API URL
    assert (created.status, created.state, created.accepted_risk) == ("open", "open", False)
    assert created.created is not None and created.created.tzinfo is not None
    assert abs((created.created - datetime.now(UTC)).total_seconds()) < 5
    assert fingerprint_marker("fp-0001") in created.body
    stored = server.issue(REPO, 1)
    assert [label["name"] for label in stored["labels"]] == ["certifai", "severity:high", "security"]
    assert server.requests_to("POST", r"/issues$")[0].path == f"{prefix}/repos/acme/app/issues"
    assert len(server.requests) == 1  # lazy PyGithub objects: creating costs exactly one request

    fetched = adapter.get_issue("1")
    assert fetched == created

    closed = adapter.close_issue("1", "Fixed in main.")
    assert (closed.status, closed.state, closed.accepted_risk) == ("closed", "closed", False)
    assert server.issue(REPO, 1)["state_reason"] == "completed"
    assert server.comments_of(REPO, 1) == ["Fixed in main."]

    reopened = adapter.reopen_issue("1", "The finding is back.")
    assert (reopened.state, reopened.accepted_risk) == ("open", False)
    assert server.issue(REPO, 1)["state_reason"] == "reopened"

    accepted = adapter.close_issue("1", "Risk accepted.", accepted_risk=True)
    assert (accepted.state, accepted.accepted_risk) == ("closed", True)
    assert server.issue(REPO, 1)["state_reason"] == "not_planned"

    adapter.comment("1", "A note.")
    assert server.comments_of(REPO, 1) == ["Fixed in main.", "The finding is back.", "Risk accepted.", "A note."]
    assert all(r.path.startswith(f"{prefix}/repos/acme/app/") for r in server.requests)
    assert all(r.headers["authorization"] == f"token {TOKEN}" for r in server.requests)


def test_closing_an_issue_already_closed_keeps_githubs_reason(server):
    """GitHub ignores state_reason unless the state changes; the adapter reports what GitHub has."""
    adapter = make_adapter(server)
    adapter.create_issue(content())
    adapter.close_issue("1", "Fixed.")
    again = adapter.close_issue("1", "Accepted after all.", accepted_risk=True)
    assert (again.state, again.accepted_risk) == ("closed", False)
    assert server.issue(REPO, 1)["state_reason"] == "completed"


def test_get_issue_that_does_not_exist(server):
    with pytest.raises(TrackerNotFound, match=r"#42 was not found in acme/app"):
        make_adapter(server).get_issue("42")
    assert [r.path for r in server.requests] == ["/repos/acme/app/issues/42", "/repos/acme/app"]
    with pytest.raises(TrackerNotFound):
        make_adapter(server).close_issue("42", "x")
    with pytest.raises(TrackerConfigError, match="not a GitHub issue number"):
        make_adapter(server).get_issue("ABC-1")


def test_deleted_issue_is_reported_gone(server):
    adapter = make_adapter(server)
    adapter.create_issue(content())
    server.delete_issue(REPO, 1)
    with pytest.raises(TrackerNotFound, match="was deleted"):
        adapter.get_issue("1")


def test_find_issue_lists_recent_issues_while_search_lags(server, prefix):
    server.search_lag = 3600  # the search index hasn't seen anything from the last hour
    adapter = make_adapter(server, prefix)
    claimed = datetime.now(UTC)
    adapter.create_issue(content("fp-other"))
    created = adapter.create_issue(content("fp-0001"))

    found = adapter.find_issue("fp-0001", created_after=claimed)
    assert found is not None and found.external_id == created.external_id
    assert server.requests_to("GET", r"/search/issues") == []
    listing = server.requests_to("GET", r"/issues$")[-1]
    assert listing.arg("labels") == "certifai" and listing.arg("state") == "all"
    assert listing.arg("sort") == "created" and listing.arg("direction") == "desc"
    assert listing.arg("since") <= claimed.strftime("%Y-%m-%dT%H:%M:%SZ")

    assert adapter.find_issue("fp-0001") is None  # search alone doesn't see it yet...
    server.advance(3601)
    found = adapter.find_issue("fp-0001")  # ...and does once indexed
    assert found is not None and found.external_id == created.external_id
    assert server.requests_to("GET", r"/search/issues")[-1].arg("q") == 'repo:acme/app is:issue in:body "fp-0001"'


def test_find_issue_falls_back_to_search_for_older_issues(server):
    adapter = make_adapter(server)
    body = f"old issue\n{fingerprint_marker('fp-old')}"
    number = server.add_issue(REPO, "Old", body, labels=["certifai"], created=time.time() - 86400)
    server.add_issue(REPO, "A pull request", body, labels=["certifai"], pull_request=True)
    server.add_issue(REPO, "Mentions it", "Text about fp-old without the marker", labels=["certifai"])

    found = adapter.find_issue("fp-old", created_after=datetime.now(UTC))
    assert found is not None and found.external_id == str(number)
    assert len(server.requests_to("GET", r"/search/issues")) == 1
    assert adapter.find_issue("fp-missing", created_after=datetime.now(UTC)) is None


def test_find_issue_ignores_pull_requests_and_unmarked_issues(server):
    adapter = make_adapter(server)
    server.add_issue(REPO, "PR", fingerprint_marker("fp-1"), labels=["certifai"], pull_request=True)
    server.add_issue(REPO, "Human", "mentions fp-1", labels=["certifai"])
    assert adapter.find_issue("fp-1", created_after=datetime.now(UTC) - timedelta(minutes=1)) is None


def seed_labelled(server: FakeGitHub, count: int) -> None:
    start = time.time() - 10 * count
    for i in range(count):
        server.add_issue(REPO, f"Issue {i + 1}", f"body {i + 1}", labels=["certifai"], created=start + 10 * i)


def test_list_issues_recently_updated_in_one_request(server):
    seed_labelled(server, 250)  # sorted by update: page 1 holds #250..#151
    issues = make_adapter(server).list_issues(["250", "200", "151"])
    assert [i.external_id for i in issues] == ["250", "200", "151"]
    assert len(server.requests) == 1
    assert server.requests[0].arg("per_page") == "100" and server.requests[0].arg("sort") == "updated"


def test_list_issues_pages_when_cheaper_than_single_reads(server):
    seed_labelled(server, 250)
    issues = make_adapter(server).list_issues(["10", "20", "30", "40"])
    assert [i.external_id for i in issues] == ["10", "20", "30", "40"]
    assert [r.arg("page") for r in server.requests] == [None, "2", "3"]


def test_list_issues_reads_single_issues_when_cheaper(server):
    seed_labelled(server, 250)
    issues = make_adapter(server).list_issues(["249", "10"])
    assert [i.external_id for i in issues] == ["249", "10"]
    assert [r.path for r in server.requests] == ["/repos/acme/app/issues", "/repos/acme/app/issues/10"]


def test_list_issues_leaves_out_what_github_no_longer_has(server):
    adapter = make_adapter(server)
    seed_labelled(server, 3)
    unlabelled = server.add_issue(REPO, "Someone removed our label", "body")
    server.delete_issue(REPO, 2)
    issues = adapter.list_issues(["1", "2", "3", str(unlabelled), "77", "not-a-number"])
    assert [i.external_id for i in issues] == ["1", "3", str(unlabelled)]
    assert adapter.list_issues([]) == []
    single = adapter.list_issues(["3"])
    assert [i.external_id for i in single] == ["3"]


def test_lost_access_to_the_repository_is_not_a_missing_issue(server):
    """GitHub answers 404 for an issue in a repository the token can no longer see."""
    adapter = make_adapter(server)
    adapter.create_issue(content())
    server.tokens[TOKEN]["repos"] = {}
    for call in (lambda: adapter.get_issue("1"), lambda: adapter.comment("1", "x"),
                 lambda: adapter.close_issue("1", "x")):
        with pytest.raises(TrackerConfigError) as caught:
            call()
        assert not isinstance(caught.value, TrackerNotFound)
        assert "Repository acme/app was not found" in str(caught.value)


def test_list_issues_reports_a_missing_repository_rather_than_deleted_issues(server):
    with pytest.raises(TrackerConfigError, match="acme/gone"):
        make_adapter(server, repository="acme/gone").list_issues(["1"])
    with pytest.raises(TrackerConfigError, match="acme/gone"):
        make_adapter(server, repository="acme/gone").list_issues(["1", "2"])


# --- the adapter: errors ----------------------------------------------------------------------------------------


def test_wrong_token_is_an_auth_error_after_one_request(server, prefix):
    adapter = make_adapter(server, prefix, token=WRONG_TOKEN)
    with pytest.raises(TrackerAuthError) as caught:
        adapter.create_issue(content())
    message = str(caught.value)
    assert "GitHub rejected the token (401 Bad credentials)" in message
    assert "Issues: read and write" in message
    assert len(server.requests) == 1  # no retry
    with pytest.raises(TrackerAuthError):
        adapter.get_issue("1")
    assert len(server.requests) == 2


def test_unknown_repository_is_a_config_error(server):
    for repository in ("acme/missing", "other/secret"):  # other/secret exists, but this token can't see it
        with pytest.raises(TrackerConfigError) as caught:
            make_adapter(server, repository=repository).create_issue(content())
        assert repository in str(caught.value) and "token" in str(caught.value)
    with pytest.raises(TrackerConfigError, match="owner/name"):
        make_adapter(server, repository="just-a-name").create_issue(content())
    assert len(server.requests) == 2


def test_rate_limit_with_retry_after(server):
    server.add_fault(Fault("rate_limit", retry_after=7), method="POST")
    with pytest.raises(TrackerRateLimited) as caught:
        make_adapter(server).create_issue(content())
    assert caught.value.retry_after == 7
    assert caught.value.retryable
    assert len(server.requests) == 1  # the client neither slept nor retried


def test_secondary_rate_limit_on_content_creation(server):
    server.creation_limit_per_minute = 1
    adapter = make_adapter(server)
    adapter.create_issue(content("fp-1"))
    started = time.monotonic()
    with pytest.raises(TrackerRateLimited) as caught:
        adapter.create_issue(content("fp-2"))
    assert time.monotonic() - started < 2  # raised, not slept
    assert 55 <= caught.value.retry_after <= 60
    assert len(server.requests_to("POST", r"/issues$")) == 2
    assert server.issue_count(REPO) == 1


def test_secondary_rate_limit_without_retry_after_waits_a_minute(server):
    message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    server.add_fault(Fault("status", status=403, body={"message": message}), method="GET")
    with pytest.raises(TrackerRateLimited) as caught:
        make_adapter(server).get_issue("1")
    assert caught.value.retry_after == 60
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [403, 429])
def test_primary_rate_limit_waits_until_reset(status):
    fake = make_server(rate_limit_status=status)
    try:
        fake.set_remaining(TOKEN, 0)
        with pytest.raises(TrackerRateLimited) as caught:
            make_adapter(fake).get_issue("1")
        assert 3590 <= caught.value.retry_after <= 3601  # x-ratelimit-reset is an hour away
        assert len(fake.requests) == 1
    finally:
        fake.stop()


def test_forbidden_is_an_auth_error(server):
    number = server.add_issue(REPO, "Filed by someone else", "body", user="alice")
    with pytest.raises(TrackerAuthError, match="403"):
        make_adapter(server, token=READ_TOKEN).close_issue(str(number), "closing")
    assert len(server.requests) == 1


def test_validation_failed_is_a_config_error_with_githubs_message(server):
    adapter = make_adapter(server)
    adapter.create_issue(content())
    with pytest.raises(TrackerConfigError, match=r"422 Validation Failed: Body is too long \(maximum is 65536"):
        adapter.comment("1", "x" * 70000)


def test_issues_disabled(server):
    server.add_repo(REPO, has_issues=False)
    with pytest.raises(TrackerConfigError, match="Issues are disabled in acme/app"):
        make_adapter(server).create_issue(content())


def test_bad_gateway_on_get_is_retried(server):
    adapter = make_adapter(server)
    adapter.create_issue(content())
    server.add_fault(Fault("status", status=502), method="GET", path=r"/issues/1$")
    assert adapter.get_issue("1").external_id == "1"
    assert len(server.requests_to("GET", r"/issues/1$")) == 2


def test_persistent_5xx_on_get_gives_up_after_two_retries(server):
    server.add_fault(Fault("status", status=502), method="GET", times=10)
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server).get_issue("1")
    assert caught.value.outcome_unknown is False
    assert len(server.requests) == 3


def test_unavailable_on_create_is_not_retried(server):
    server.add_fault(Fault("status", status=503), method="POST", times=5)
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server).create_issue(content())
    assert len(server.requests_to("POST", r"/issues$")) == 1
    assert caught.value.outcome_unknown is True  # a 5xx answer to a write: look before filing again


def test_5xx_on_patch_is_not_retried(server):
    adapter = make_adapter(server)
    adapter.create_issue(content())
    server.add_fault(Fault("status", status=502), method="PATCH", times=5)
    with pytest.raises(TrackerTransientError):
        adapter.close_issue("1", "Fixed.")
    assert len(server.requests_to("PATCH", r"/issues/1$")) == 1


def test_slow_answer_to_create_is_transient_and_unknown(server):
    server.add_fault(Fault("delay", seconds=2.0), method="POST")
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server, timeout=1.0).create_issue(content())
    assert caught.value.outcome_unknown is True
    assert "no answer within 1 s" in str(caught.value)
    assert len(server.requests_to("POST", r"/issues$")) == 1


def test_slow_answer_to_get_is_retried_once_then_transient(server):
    server.add_fault(Fault("delay", seconds=2.0), method="GET", times=5)
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server, timeout=1.0).get_issue("1")
    assert caught.value.outcome_unknown is False
    assert len(server.requests) == 2


def test_connection_refused_is_transient_and_known_not_sent():
    settings = TrackerSettings(type="github", token=TOKEN, repository=REPO,
                               api_url=f"http://127.0.0.1:{unused_port()}", timeout=2.0, allowed_hosts=ALLOWED)
    with pytest.raises(TrackerTransientError) as caught:
        GitHubAdapter(settings).create_issue(content())
    assert caught.value.outcome_unknown is False
    assert "Could not connect" in str(caught.value)


def test_dropped_answer_after_create_then_find_issue_finds_it(server, prefix):
    server.search_lag = 600  # search can't see the issue: finding it must not depend on search
    adapter = make_adapter(server, prefix)
    claimed = datetime.now(UTC)
    server.add_fault(Fault("drop_after"), method="POST")
    with pytest.raises(TrackerTransientError) as caught:
        adapter.create_issue(content("fp-lost"))
    assert caught.value.outcome_unknown is True
    assert len(server.requests_to("POST", r"/issues$")) == 1
    assert server.issue_count(REPO) == 1  # GitHub did file it

    found = adapter.find_issue("fp-lost", created_after=claimed)
    assert found is not None and found.external_id == "1"
    assert server.requests_to("GET", r"/search/issues") == []
    assert server.issue_count(REPO) == 1  # the caller now links #1 instead of filing a second issue


def test_dropped_connection_before_github_handled_it(server):
    server.search_lag = 600
    adapter = make_adapter(server)
    claimed = datetime.now(UTC)
    server.add_fault(Fault("drop_before"), method="POST")
    with pytest.raises(TrackerTransientError) as caught:
        adapter.create_issue(content("fp-x"))
    assert caught.value.outcome_unknown is True  # the client cannot tell the two drops apart
    assert adapter.find_issue("fp-x", created_after=claimed) is None  # so it looks, and may safely file again
    assert adapter.create_issue(content("fp-x")).external_id == "1"


# --- test_connection ------------------------------------------------------------------------------------------


def test_connection_ok(server, prefix):
    result = make_adapter(server, prefix).test_connection()
    assert result.ok, result.message
    assert "acme/app" in result.message
    assert len(server.requests) == 1


def test_connection_bad_token(server):
    result = make_adapter(server, token=WRONG_TOKEN).test_connection()
    assert not result.ok
    assert "401 Bad credentials" in result.message and "Issues: read and write" in result.message


def test_connection_missing_repository(server):
    result = make_adapter(server, repository="acme/nope").test_connection()
    assert not result.ok
    assert "acme/nope" in result.message and "404" in result.message


@pytest.mark.parametrize(("token", "words"), [(READ_TOKEN, "read-only"), (TRIAGE_TOKEN, "triage")])
def test_connection_without_write_access(server, token, words):
    result = make_adapter(server, token=token).test_connection()
    assert not result.ok
    assert words in result.message and "write access" in result.message and "labels" in result.message


def test_labels_are_dropped_without_write_access(server, caplog):
    """Why test_connection insists on write access: GitHub silently drops labels otherwise."""
    issue = make_adapter(server, token=READ_TOKEN).create_issue(content())
    assert server.issue(REPO, int(issue.external_id))["labels"] == []
    assert "dropped the labels" in caplog.text


def test_connection_issues_disabled(server):
    server.add_repo(REPO, has_issues=False)
    result = make_adapter(server).test_connection()
    assert not result.ok and "Issues are turned off in acme/app" in result.message


def test_connection_archived(server):
    server.add_repo(REPO, archived=True)
    result = make_adapter(server).test_connection()
    assert not result.ok and "archived" in result.message


class WebSite(FakeServer):
    """Not an API: what a GitHub Enterprise host answers at / when the URL lacks /api/v3."""

    status = 200

    def setup_routes(self) -> None:
        for method in ("GET", "POST", "PATCH"):
            self.route(method, ".*", lambda request: Response(self.status, "<html>Sign in</html>"))


@pytest.mark.parametrize("status", [200, 404])
def test_connection_to_something_that_is_not_the_api(status):
    site = WebSite()
    site.status = status
    with site:
        result = make_adapter(site).test_connection()
    assert not result.ok and "https://HOST/api/v3" in result.message


def test_archived_repository(server):
    server.add_repo(REPO, archived=True)
    with pytest.raises(TrackerConfigError, match="archived"):
        make_adapter(server).create_issue(content())


def test_connection_classic_token_without_repo_scope(server):
    server.add_token("ghp_ClassicNoScope000000000000000000000", "old", {REPO: "write"}, scopes=["read:org"])
    result = make_adapter(server, token="ghp_ClassicNoScope000000000000000000000").test_connection()
    assert not result.ok and "add the repo scope" in result.message


def test_connection_never_raises(server):
    server.add_fault(Fault("status", status=500), times=10)
    result = make_adapter(server).test_connection()
    assert not result.ok and "500" in result.message
    unreachable = TrackerSettings(type="github", token=TOKEN, repository=REPO,
                                  api_url=f"http://127.0.0.1:{unused_port()}", timeout=1.0, allowed_hosts=ALLOWED)
    result = GitHubAdapter(unreachable).test_connection()
    assert not result.ok and "Could not connect" in result.message
    result = make_adapter(server, repository="").test_connection()
    assert not result.ok and "owner/name" in result.message
    result = make_adapter(server, token="").test_connection()
    assert not result.ok and "No GitHub token" in result.message
    result = GitHubAdapter(TrackerSettings(type="github", token=TOKEN, repository=REPO,
                                           api_url="ghe.example.com/api/v3")).test_connection()
    assert not result.ok and "https://HOST/api/v3" in result.message


# --- the token stays secret -----------------------------------------------------------------------------------


def test_token_never_in_messages_logs_or_reprs(server, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("github", "urllib3", "requests", "trackers"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    errors: list[TrackerError] = []
    adapter = make_adapter(server, timeout=1.0)
    adapter.test_connection()
    adapter.create_issue(content())
    adapter.find_issue("fp-0001", created_after=datetime.now(UTC))
    adapter.find_issue("fp-0001")
    adapter.list_issues(["1", "2"])
    server.add_fault(Fault("rate_limit", retry_after=3))
    server.add_fault(Fault("status", status=503), method="POST")
    server.add_fault(Fault("drop_after"), method="PATCH")
    server.add_fault(Fault("delay", seconds=1.5), method="POST", path="comments")
    failing = [
        lambda: adapter.get_issue("1"),
        lambda: adapter.create_issue(content("fp-2")),
        lambda: adapter.close_issue("1", "x"),
        lambda: adapter.comment("1", "x"),
        lambda: adapter.get_issue("999"),
        lambda: adapter.comment("1", "x" * 70000),
        lambda: make_adapter(server, token=WRONG_TOKEN).get_issue("1"),
        lambda: make_adapter(server, repository="acme/missing").create_issue(content()),
        lambda: make_adapter(server, token=READ_TOKEN).close_issue("1", "x"),
    ]
    for call in failing:
        with pytest.raises(TrackerError) as caught:
            call()
        errors.append(caught.value)
    assert {type(e) for e in errors} >= {TrackerRateLimited, TrackerTransientError, TrackerConfigError,
                                        TrackerAuthError}
    assert server.requests[0].headers["authorization"].endswith(TOKEN)  # it was sent, to GitHub only
    assert any(r.name.startswith("github") for r in caplog.records)
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    texts = [caplog.text, repr(adapter), repr(adapter.settings), str(adapter.settings)]
    for error in errors:
        texts += [str(error), repr(error), repr(error.args)]
        assert error.__cause__ is None and error.__suppress_context__
    for secret in SECRETS:
        for text in texts:
            assert secret not in text


# --- the fake, against GitHub's documentation ---------------------------------------------------------------


def test_fake_auth_schemes_and_bad_credentials(server):
    assert api(server, "GET", "/user").json()["login"] == "certifai-bot"
    response = api(server, "GET", "/user", token=None, headers={"Authorization": f"token {TOKEN}"})
    assert response.status_code == 200
    bad = api(server, "GET", "/user", token=WRONG_TOKEN)
    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials" and bad.json()["documentation_url"].startswith("https://")
    assert bad.headers["x-ratelimit-limit"] == "60"
    assert api(server, "GET", "/user", token=None).status_code == 401
    assert api(server, "GET", "/user", headers={"User-Agent": ""}).status_code == 403
    assert api(server, "POST", "/repos/acme/app/issues", token=None, json={"title": "t"}).status_code == 401


def test_fake_rate_limit_headers_on_every_response(server):
    first = api(server, "GET", "/repos/acme/app")
    second = api(server, "GET", "/repos/acme/nothing")
    assert second.status_code == 404 and second.json()["message"] == "Not Found"
    for name in ("limit", "remaining", "used", "reset", "resource"):
        assert f"x-ratelimit-{name}" in second.headers
    assert int(second.headers["x-ratelimit-remaining"]) == int(first.headers["x-ratelimit-remaining"]) - 1
    assert second.headers["x-ratelimit-used"] == "2" and second.headers["x-ratelimit-resource"] == "core"
    assert int(first.headers["x-ratelimit-reset"]) > time.time()
    search = api(server, "GET", "/search/issues", params={"q": "repo:acme/app is:issue"})
    assert search.headers["x-ratelimit-resource"] == "search" and search.headers["x-ratelimit-limit"] == "30"
    assert api(server, "GET", "/unknown/endpoint").headers["x-ratelimit-resource"] == "core"


def test_fake_primary_limit_exhaustion():
    fake = make_server(rate_limit=2, rate_limit_status=429)
    try:
        assert api(fake, "GET", "/user").status_code == 200
        assert api(fake, "GET", "/user").status_code == 200
        over = api(fake, "GET", "/user")
        assert over.status_code == 429
        assert over.headers["x-ratelimit-remaining"] == "0"
        assert over.json()["message"].startswith("API rate limit exceeded")
        assert int(over.headers["x-ratelimit-reset"]) > time.time() + 3500
        fake.advance(3601)
        assert api(fake, "GET", "/user").status_code == 200
    finally:
        fake.stop()


def test_fake_secondary_limit_on_content_creation():
    fake = make_server(creation_limit_per_minute=2)
    try:
        for _ in range(2):
            assert api(fake, "POST", "/repos/acme/app/issues", json={"title": "t"}).status_code == 201
        over = api(fake, "POST", "/repos/acme/app/issues", json={"title": "t"})
        assert over.status_code == 403
        assert "secondary rate limit" in over.json()["message"]
        assert 1 <= int(over.headers["retry-after"]) <= 60
        assert api(fake, "GET", "/repos/acme/app/issues").status_code == 200  # reads are not content creation
        fake.advance(61)
        assert api(fake, "POST", "/repos/acme/app/issues", json={"title": "t"}).status_code == 201
    finally:
        fake.stop()


def test_fake_pagination_link_header(server):
    seed_labelled(server, 250)
    first = api(server, "GET", "/repos/acme/app/issues", params={"per_page": 100})
    assert len(first.json()) == 100
    assert 'rel="next"' in first.headers["link"] and 'rel="prev"' not in first.headers["link"]
    assert first.links["next"]["url"].endswith("page=2") and first.links["last"]["url"].endswith("page=3")
    assert "per_page=100" in first.links["next"]["url"]
    last = api(server, "GET", first.links["last"]["url"])
    assert len(last.json()) == 50 and "next" not in last.links
    assert last.links["prev"]["url"].endswith("page=2") and last.links["first"]["url"].endswith("page=1")
    assert len(api(server, "GET", "/repos/acme/app/issues", params={"per_page": 500}).json()) == 100
    assert len(api(server, "GET", "/repos/acme/app/issues").json()) == 30  # default page size
    assert "link" not in api(server, "GET", "/repos/acme/app/labels").headers  # one page: no link header


def test_fake_enterprise_prefix_urls(server):
    issue = api(server, "POST", "/repos/acme/app/issues", prefix="/api/v3", json={"title": "t"}).json()
    assert issue["url"] == f"{server.url}/api/v3/repos/acme/app/issues/1"
    assert issue["html_url"] == f"{server.url}/acme/app/issues/1"
    assert api(server, "GET", "/repos/acme/app/issues/1").json()["url"] == f"{server.url}/repos/acme/app/issues/1"


def test_fake_issue_fields(server):
    created = api(server, "POST", "/repos/acme/app/issues", json={"title": "T", "body": "B", "labels": ["new"]})
    assert created.status_code == 201
    issue = created.json()
    for name in ("id", "node_id", "number", "url", "html_url", "title", "body", "state", "state_reason", "labels",
                 "user", "comments", "created_at", "updated_at", "closed_at"):
        assert name in issue
    assert "pull_request" not in issue
    assert issue["state"] == "open" and issue["state_reason"] is None and issue["closed_at"] is None
    assert issue["user"]["login"] == "certifai-bot"
    assert issue["created_at"].endswith("Z") and len(issue["created_at"]) == 20
    assert issue["labels"][0]["name"] == "new"  # unknown label names are created
    assert [label["name"] for label in api(server, "GET", "/repos/acme/app/labels").json()] == ["new"]


def test_fake_state_reason_is_ignored_unless_state_changes(server):
    api(server, "POST", "/repos/acme/app/issues", json={"title": "T"})
    path = "/repos/acme/app/issues/1"
    same = api(server, "PATCH", path, json={"state_reason": "not_planned"}).json()
    assert (same["state"], same["state_reason"]) == ("open", None)
    closed = api(server, "PATCH", path, json={"state": "closed", "state_reason": "not_planned"}).json()
    assert (closed["state"], closed["state_reason"]) == ("closed", "not_planned") and closed["closed_at"]
    again = api(server, "PATCH", path, json={"state": "closed", "state_reason": "completed"}).json()
    assert again["state_reason"] == "not_planned"
    reopened = api(server, "PATCH", path, json={"state": "open"}).json()
    assert (reopened["state"], reopened["state_reason"], reopened["closed_at"]) == ("open", "reopened", None)
    plain = api(server, "PATCH", path, json={"state": "closed"}).json()
    assert plain["state_reason"] == "completed"
    assert api(server, "PATCH", path, json={"state": "shut"}).status_code == 422
    assert api(server, "PATCH", path, json={"state_reason": "bored"}).status_code == 422


def test_fake_validation_limits(server):
    path = "/repos/acme/app/issues"
    too_long = api(server, "POST", path, json={"title": "x" * 257})
    assert too_long.status_code == 422
    assert too_long.json()["message"] == "Validation Failed"
    assert too_long.json()["errors"] == [{"resource": "Issue", "field": "title", "code": "custom",
                                          "message": "title is too long (maximum is 256 characters)"}]
    assert api(server, "POST", path, json={"title": "x" * 256}).status_code == 201
    body = api(server, "POST", path, json={"title": "t", "body": "x" * 65537})
    assert body.status_code == 422 and body.json()["errors"][0]["field"] == "body"
    assert api(server, "POST", path, json={"title": "t", "body": "x" * 65536}).status_code == 201
    assert api(server, "POST", path, json={"body": "no title"}).json()["errors"][0]["code"] == "missing_field"
    assert api(server, "POST", path, data="{not json", headers={"Content-Type": "application/json"}).status_code == 400


def test_fake_repository_visibility_and_permissions(server):
    assert api(server, "GET", "/repos/other/secret").status_code == 404
    assert api(server, "GET", "/repos/other/secret", token=OTHER_TOKEN).status_code == 200
    write = api(server, "GET", "/repos/acme/app").json()["permissions"]
    assert write == {"admin": False, "maintain": False, "triage": True, "push": True, "pull": True}
    read = api(server, "GET", "/repos/acme/app", token=READ_TOKEN).json()
    assert read["permissions"]["push"] is False and read["permissions"]["pull"] is True
    assert read["has_issues"] is True
    server.add_repo(REPO, has_issues=False)
    assert api(server, "POST", "/repos/acme/app/issues", json={"title": "t"}).status_code == 410


def test_fake_labels_need_push_access(server):
    created = api(server, "POST", "/repos/acme/app/issues", token=READ_TOKEN, json={"title": "t", "labels": ["x"]})
    assert created.status_code == 201 and created.json()["labels"] == []  # silently dropped
    assert api(server, "POST", "/repos/acme/app/labels", token=READ_TOKEN, json={"name": "x"}).status_code == 403
    assert api(server, "POST", "/repos/acme/app/labels", json={"name": "x", "color": "ff0000"}).status_code == 201
    duplicate = api(server, "POST", "/repos/acme/app/labels", json={"name": "X"})
    assert duplicate.status_code == 422 and duplicate.json()["errors"][0]["code"] == "already_exists"


def test_fake_list_filters(server):
    now = time.time()
    server.add_issue(REPO, "old open", labels=["certifai", "a"], created=now - 7200)
    server.add_issue(REPO, "closed", labels=["certifai"], state="closed", created=now - 3600)
    server.add_issue(REPO, "new open", labels=["a"], created=now)
    server.add_issue(REPO, "a PR", labels=["certifai"], pull_request=True, created=now)

    def titles(**params):
        return [i["title"] for i in api(server, "GET", "/repos/acme/app/issues", params=params).json()]

    assert titles() == ["a PR", "new open", "old open"]  # default: open, newest first, PRs included
    assert titles(state="closed") == ["closed"]
    assert titles(state="all", labels="certifai,a") == ["old open"]  # every label must match
    assert titles(state="all", direction="asc") == ["old open", "closed", "new open", "a PR"]
    since = datetime.fromtimestamp(now - 4000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert titles(state="all", since=since) == ["a PR", "new open", "closed"]
    pr = api(server, "GET", "/repos/acme/app/issues/4").json()
    assert "pull_request" in pr and pr["html_url"].endswith("/pull/4")
    assert api(server, "GET", "/repos/acme/app/issues", params={"state": "nope"}).status_code == 422


def test_fake_comments(server):
    api(server, "POST", "/repos/acme/app/issues", json={"title": "t"})
    comment = api(server, "POST", "/repos/acme/app/issues/1/comments", json={"body": "hello"})
    assert comment.status_code == 201 and comment.json()["body"] == "hello"
    assert comment.json()["html_url"].endswith(f"/acme/app/issues/1#issuecomment-{comment.json()['id']}")
    assert [c["body"] for c in api(server, "GET", "/repos/acme/app/issues/1/comments").json()] == ["hello"]
    assert api(server, "GET", "/repos/acme/app/issues/1").json()["comments"] == 1
    assert api(server, "POST", "/repos/acme/app/issues/9/comments", json={"body": "x"}).status_code == 404


def test_fake_search(server):
    server.add_issue(REPO, "SQL injection", f"found in db.py\n{fingerprint_marker('fp-9')}", labels=["certifai"])
    server.add_issue(REPO, "Other", "fp-9 in the title? no, in the body", state="closed")
    server.add_issue(REPO, "PR about fp-9", "fp-9", pull_request=True)

    def search(q, token=TOKEN):
        return api(server, "GET", "/search/issues", token=token, params={"q": q})

    result = search('repo:acme/app is:issue in:body "fp-9"').json()
    assert result["total_count"] == 2 and result["incomplete_results"] is False
    assert {i["number"] for i in result["items"]} == {1, 2} and "score" in result["items"][0]
    assert search("repo:acme/app is:issue label:certifai fp-9").json()["total_count"] == 1
    assert search("repo:acme/app is:issue state:closed fp-9").json()["total_count"] == 1
    assert search("repo:acme/app is:pr fp-9").json()["total_count"] == 1
    assert search("repo:acme/app in:title fp-9").json()["total_count"] == 1
    assert search("repo:acme/app injection").json()["total_count"] == 1
    assert search("repo:other/secret fp-9").status_code == 422  # a repository the token can't see
    assert search("fp-9", token=OTHER_TOKEN).json()["total_count"] == 0
    assert search("").status_code == 422


def test_fake_search_index_lag(server):
    server.search_lag = 30
    api(server, "POST", "/repos/acme/app/issues", json={"title": "fresh", "body": "fp-new"})
    assert api(server, "GET", "/repos/acme/app/issues").json()[0]["title"] == "fresh"  # listing: at once
    assert api(server, "GET", "/search/issues", params={"q": "repo:acme/app fp-new"}).json()["total_count"] == 0
    server.advance(31)
    assert api(server, "GET", "/search/issues", params={"q": "repo:acme/app fp-new"}).json()["total_count"] == 1


def test_fake_issue_edit_permissions(server):
    mine = api(server, "POST", "/repos/acme/app/issues", token=READ_TOKEN, json={"title": "mine"}).json()
    server.add_issue(REPO, "theirs", user="alice")
    # "Issue owners and users with push access or Triage role can edit an issue."
    assert api(server, "PATCH", f"/repos/acme/app/issues/{mine['number']}", token=READ_TOKEN,
               json={"state": "closed"}).status_code == 200
    assert api(server, "PATCH", "/repos/acme/app/issues/2", token=READ_TOKEN, json={"state": "closed"}).status_code \
        == 403
    assert api(server, "PATCH", "/repos/acme/app/issues/2", token=TRIAGE_TOKEN, json={"state": "closed"}).status_code \
        == 200
    server.delete_issue(REPO, 2)
    assert api(server, "GET", "/repos/acme/app/issues/2").status_code == 410
