"""GitLab adapter against the fake GitLab, through real python-gitlab over HTTP. No database."""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime, timedelta

import gitlab
import pytest
import requests

from trackers.adapters.base import (
    IssueContent,
    TrackerAuthError,
    TrackerConfigError,
    TrackerError,
    TrackerRateLimited,
    TrackerSettings,
    TrackerTransientError,
    fingerprint_marker,
)
from trackers.adapters.gitlab import GitLabAdapter, is_accepted_risk_label, normalise_project_ref
from trackers.adapters.registry import adapter_class
from trackers.fakes.base import Fault
from trackers.fakes.gitlab import DEVELOPER, GUEST, PLANNER, REPORTER, FakeGitLab

TOKEN = "glpat-TOPSECRET-4f9c2a7d1e"
# The fakes listen on 127.0.0.1 over http: allowed explicitly, as CERTIFAI_TRACKER_ALLOWED_HOSTS would.
ALLOWED = ("127.0.0.1",)
BOT = "certifai-bot"
FP = "a3" * 32


@pytest.fixture
def server():
    fake = FakeGitLab().start()
    fake.add_user(BOT, token=TOKEN)
    fake.add_user("alice", token="glpat-alice")
    fake.add_project("acme/webapp", project_id=42, members={BOT: REPORTER, "alice": DEVELOPER})
    yield fake
    fake.stop()


@pytest.fixture
def project(server):
    return server.projects[42]


@pytest.fixture(autouse=True)
def no_client_sleep(monkeypatch):
    """python-gitlab must never sleep on its own (obey_rate_limit / retry_transient_errors are off)."""

    for name in ("handle_retry_on_status", "handle_retry"):
        original = getattr(gitlab.utils.Retry, name)

        def guarded(self, *args, _original=original, _name=name, **kwargs):
            if _original(self, *args, **kwargs):
                raise AssertionError(f"python-gitlab retried on its own ({_name})")
            return False

        monkeypatch.setattr(gitlab.utils.Retry, name, guarded)


def make_adapter(server, project_id="acme/webapp", token=TOKEN, timeout=5.0, labels=("team-x",)):
    adapter = GitLabAdapter(
        TrackerSettings(type="gitlab", token=token, project_id=project_id, instance_url=server.url,
                        timeout=timeout, labels=labels, allowed_hosts=ALLOWED)
    )
    adapter.RETRY_BACKOFF = 0.01
    return adapter


def content(fingerprint=FP, **overrides):
    values = dict(
        fingerprint=fingerprint, severity="high", rule_id="B608", rule_title="SQL injection",
        description="User input reaches a query.", file_path="app/db.py", start_line=12, end_line=12,
        tool="bandit", finding_url="http://certifai.test/findings/1", snippet="cur.execute(q % x)",
    )
    values.update(overrides)
    return IssueContent(**values)


def body_with(fingerprint):
    return f"Some text\n\n{fingerprint_marker(fingerprint)}"


# --- registry ---------------------------------------------------------------------------------------------------


def test_registered_under_gitlab():
    cls = adapter_class("gitlab")
    assert cls is GitLabAdapter
    assert (cls.type, cls.display_name) == ("gitlab", "GitLab")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        (" acme/webapp ", "acme/webapp"),
        ("https://gitlab.example.com/acme/sub/webapp.git", "acme/sub/webapp"),
        ("https://gitlab.com/acme/webapp/-/issues", "acme/webapp"),
        ("", ""),
    ],
)
def test_project_reference_forms(value, expected):
    assert normalise_project_ref(value) == expected


# --- operations ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("project_id", "encoded"), [("acme/webapp", "acme%2Fwebapp"), ("42", "42")])
def test_create_issue_by_path_and_by_id(server, project, project_id, encoded):
    adapter = make_adapter(server, project_id=project_id)

    issue = adapter.create_issue(content())

    [post] = server.requests_to("POST", r"/issues$")
    assert post.path == f"/api/v4/projects/{encoded}/issues"
    assert post.headers["private-token"] == TOKEN
    sent = post.json()
    assert sent["title"] == "[HIGH] SQL injection in app/db.py:12"
    assert sent["labels"] == "certifai,severity:high,team-x"  # documented form: comma-separated string
    assert fingerprint_marker(FP) in sent["description"]

    stored = server.issue(project, 1)
    assert stored["labels"] == ["certifai", "severity:high", "team-x"]
    assert issue.tracker == "gitlab"
    assert issue.external_id == "1"
    assert issue.url == f"{server.url}/acme/webapp/-/issues/1"
    assert (issue.status, issue.state, issue.accepted_risk) == ("open", "open", False)
    assert issue.created is not None and issue.created.tzinfo is not None
    assert issue.created.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - issue.created).total_seconds()) < 60
    assert fingerprint_marker(FP) in issue.body


def test_get_issue(server, project):
    server.add_issue(project, "Seeded", description=body_with(FP), labels=["certifai"])
    issue = make_adapter(server).get_issue("1")
    assert (issue.external_id, issue.title, issue.state, issue.status) == ("1", "Seeded", "open", "open")
    assert issue.body == body_with(FP)


def test_comment_posts_a_note(server, project):
    server.add_issue(project, "Seeded")
    make_adapter(server).comment("1", "Still present in scan 7.")
    [note] = server.notes[(42, 1)]
    assert note["body"] == "Still present in scan 7."
    assert note["author"]["username"] == BOT


def test_close_issue_as_fixed_comments_first(server, project):
    server.add_issue(project, "Seeded", labels=["certifai"])
    issue = make_adapter(server).close_issue("1", "Fixed in scan 8.")
    assert (issue.state, issue.status, issue.accepted_risk) == ("closed", "closed", False)
    methods = [(r.method, r.path.rsplit("/", 1)[-1]) for r in server.requests]
    assert methods == [("POST", "notes"), ("PUT", "1")]
    assert server.requests_to("PUT", r"/issues/1$")[0].json() == {"state_event": "close"}
    assert server.notes[(42, 1)][0]["body"] == "Fixed in scan 8."


def test_close_issue_as_accepted_risk_labels_it(server, project):
    server.add_issue(project, "Seeded", labels=["certifai"])
    issue = make_adapter(server).close_issue("1", "Risk accepted by alice.", accepted_risk=True)
    assert issue.state == "closed" and issue.accepted_risk is True
    assert server.issue(project, 1)["labels"] == ["certifai", "accepted-risk"]


def test_reopen_issue_comments_and_drops_our_accepted_risk_label(server, project):
    server.add_issue(project, "Seeded", labels=["certifai", "accepted-risk", "backend"], state="closed")
    issue = make_adapter(server).reopen_issue("1", "Found again in scan 9.")
    assert (issue.state, issue.status, issue.accepted_risk) == ("open", "open", False)
    assert server.issue(project, 1)["labels"] == ["certifai", "backend"]
    assert server.notes[(42, 1)][0]["body"] == "Found again in scan 9."


@pytest.mark.parametrize(
    ("labels", "state", "accepted"),
    [
        (["certifai", "Won't Fix"], "closed", True),
        (["wontfix"], "closed", True),
        (["Not Planned"], "closed", True),
        (["resolution::won\u2019t fix"], "closed", True),
        (["ACCEPTED-RISK"], "closed", True),
        (["wontfix"], "opened", False),
        (["bug", "certifai"], "closed", False),
    ],
)
def test_accepted_risk_read_from_labels_people_set(server, project, labels, state, accepted):
    server.add_issue(project, "Seeded", labels=labels, state=state)
    assert make_adapter(server).get_issue("1").accepted_risk is accepted


def test_accepted_risk_label_names():
    assert is_accepted_risk_label(" Won't fix ")
    assert not is_accepted_risk_label("fix")


def test_unknown_issue_is_a_config_error(server):
    with pytest.raises(TrackerConfigError, match="no such issue"):
        make_adapter(server).get_issue("999")


def test_non_numeric_issue_id_is_rejected_without_a_request(server):
    with pytest.raises(TrackerConfigError):
        make_adapter(server).get_issue("ABC-1")
    assert server.requests == []


# --- find_issue ---------------------------------------------------------------------------------------------------


def test_find_issue_by_listing_since_the_claim_while_search_lags(server, project):
    server.search_lag = 3600
    claimed = datetime.now(UTC)
    adapter = make_adapter(server)
    created = adapter.create_issue(content())

    assert adapter.find_issue(FP) is None  # search has not indexed it yet
    found = adapter.find_issue(FP, created_after=claimed)

    assert found is not None and found.external_id == created.external_id
    listing = server.requests_to("GET", r"/issues$")[-1]
    assert "search" not in listing.query and "created_after" in listing.query


def test_find_issue_tolerates_clock_skew(server, project):
    server.search_lag = 3600
    now = time.time()
    server.add_issue(project, "Skewed", description=body_with(FP), created_at=now - 300, indexed=False)
    found = make_adapter(server).find_issue(FP, created_after=datetime.fromtimestamp(now, UTC))
    assert found is not None and found.external_id == "1"


def test_find_issue_falls_back_on_search_for_older_issues(server, project):
    now = time.time()
    server.add_issue(project, "Old", description=body_with(FP), labels=["certifai"], created_at=now - 86400 * 30)
    server.add_issue(project, "Other", description=body_with("b" * 64), labels=["certifai"])
    adapter = make_adapter(server)
    assert adapter.find_issue(FP, created_after=datetime.now(UTC)).title == "Old"
    assert adapter.find_issue(FP).title == "Old"
    assert adapter.find_issue("c" * 64) is None


def test_find_issue_checks_the_marker_not_just_the_search_hit(server, project):
    # The fingerprint is mentioned, but not as Certifai's marker (a person quoted it in another issue).
    server.add_issue(project, "Mentions it", description=f"see fingerprint {FP}")
    assert make_adapter(server).find_issue(FP) is None


def test_find_issue_pages_beyond_the_first_page(server, project):
    now = time.time()
    for n in range(150):
        server.add_issue(project, f"Issue {n}", description=body_with(f"{n:064d}"), labels=["certifai"],
                         created_at=now + n * 0.001)
    server.add_issue(project, "Target", description=body_with(FP), labels=["certifai"], created_at=now + 1)
    found = make_adapter(server).find_issue(FP, created_after=datetime.fromtimestamp(now, UTC))
    assert found is not None and found.title == "Target"
    pages = [r.arg("page") for r in server.requests_to("GET", r"/issues$")]
    assert pages == ["1", "2"]


# --- list_issues ---------------------------------------------------------------------------------------------------


def test_list_issues_batches_one_request_per_hundred(server, project):
    for n in range(250):
        server.add_issue(project, f"Issue {n + 1}", state="closed" if n % 2 else "opened")
    wanted = [str(n) for n in range(1, 251)] + ["9999", "not-a-number"]

    issues = make_adapter(server).list_issues(wanted)

    assert [i.external_id for i in issues] == [str(n) for n in range(1, 251)]
    assert issues[1].state == "closed" and issues[0].state == "open"
    calls = server.requests_to("GET", r"/issues$")
    assert len(calls) == 3
    assert [len(r.query["iids[]"]) for r in calls] == [100, 100, 51]


def test_list_issues_with_nothing_to_ask_makes_no_request(server):
    assert make_adapter(server).list_issues([]) == []
    assert server.requests == []


# --- errors ----------------------------------------------------------------------------------------------------------


def test_wrong_token_is_an_auth_error_after_one_request(server):
    adapter = make_adapter(server, token="glpat-wrong")
    with pytest.raises(TrackerAuthError) as caught:
        adapter.create_issue(content())
    assert str(caught.value) == "GitLab rejected the token (401): create a token with the api scope."
    assert len(server.requests) == 1


def test_unknown_project_is_a_config_error(server):
    with pytest.raises(TrackerConfigError, match="acme/missing") as caught:
        make_adapter(server, project_id="acme/missing").create_issue(content())
    assert "not found" in str(caught.value)
    assert len(server.requests) == 1


def test_private_project_of_others_looks_missing(server):
    server.add_project("secret/app", project_id=7, members={"alice": REPORTER})
    with pytest.raises(TrackerConfigError, match="7"):
        make_adapter(server, project_id="7").get_issue("1")


def test_read_api_token_cannot_write(server):
    server.add_token(BOT, "glpat-readonly", scopes=("read_api",))
    with pytest.raises(TrackerAuthError, match="api scope"):
        make_adapter(server, token="glpat-readonly").create_issue(content())


def test_guest_cannot_close_someone_elses_issue(server, project):
    server.set_access(project, BOT, GUEST)
    server.add_issue(project, "By alice", author="alice")
    with pytest.raises(TrackerAuthError, match="Reporter"):
        make_adapter(server).close_issue("1", "")
    assert server.issue(project, 1)["state"] == "opened"


def test_rate_limited_with_retry_after_and_no_sleeping(server):
    server.add_fault(Fault("rate_limit", retry_after=7), method="POST")
    started = time.monotonic()
    with pytest.raises(TrackerRateLimited) as caught:
        make_adapter(server).create_issue(content())
    assert time.monotonic() - started < 1
    assert caught.value.retry_after == 7
    assert caught.value.retryable
    assert len(server.requests_to("POST", r"/issues$")) == 1


def test_issue_creation_limit_of_the_fake(server):
    server.limits["issues_create"] = 2
    server.clock = lambda: 1_800_000_030.0  # 30 s into a one-minute window
    adapter = make_adapter(server)
    adapter.create_issue(content())
    adapter.create_issue(content(fingerprint="b" * 64))
    with pytest.raises(TrackerRateLimited) as caught:
        adapter.create_issue(content(fingerprint="c" * 64))
    assert caught.value.retry_after == 30
    assert len(server.issues) == 2
    assert len(server.requests_to("POST", r"/issues$")) == 3


def test_rate_limited_without_retry_after_uses_ratelimit_reset(server):
    reset = int(time.time()) + 20
    server.add_fault(Fault("status", status=429, headers={"RateLimit-Reset": str(reset)}, body="Retry later\n"),
                     method="GET")
    with pytest.raises(TrackerRateLimited) as caught:
        make_adapter(server).get_issue("1")
    assert 18 <= caught.value.retry_after <= 20
    assert len(server.requests) == 1  # a 429 is never retried in the client


def test_bad_gateway_on_a_read_is_retried(server, project):
    server.add_issue(project, "Seeded")
    server.add_fault(Fault("status", status=502), method="GET", path=r"/issues/1$")
    assert make_adapter(server).get_issue("1").title == "Seeded"
    assert len(server.requests_to("GET", r"/issues/1$")) == 2


def test_reads_give_up_after_a_couple_of_retries(server):
    server.add_fault(Fault("status", status=502), method="GET", times=10)
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server).get_issue("1")
    assert caught.value.outcome_unknown is False
    assert len(server.requests) == 1 + GitLabAdapter.GET_RETRIES


def test_service_unavailable_on_create_is_not_retried(server):
    server.add_fault(Fault("status", status=503), method="POST")
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server).create_issue(content())
    assert caught.value.outcome_unknown is True  # a gateway's 5xx does not prove the write did not happen
    assert len(server.requests_to("POST", r"/issues$")) == 1


def test_server_error_on_close_after_the_comment(server, project):
    server.add_issue(project, "Seeded")
    server.add_fault(Fault("status", status=500), method="PUT")
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server).close_issue("1", "Fixed.")
    assert caught.value.outcome_unknown is True
    assert len(server.requests_to("PUT", r"/issues/1$")) == 1


def test_slow_write_beyond_timeout_is_transient_and_unknown(server):
    server.add_fault(Fault("delay", seconds=1.5), method="POST")
    started = time.monotonic()
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server, timeout=0.4).create_issue(content())
    assert time.monotonic() - started < 1.4
    assert caught.value.outcome_unknown is True
    assert len(server.requests_to("POST", r"/issues$")) == 1


def test_slow_reads_are_retried_then_transient(server):
    server.add_fault(Fault("delay", seconds=1.0), method="GET", times=3)
    with pytest.raises(TrackerTransientError, match="did not answer") as caught:
        make_adapter(server, timeout=0.3).get_issue("1")
    assert caught.value.outcome_unknown is False
    assert len(server.requests) == 3


def test_connection_dropped_after_create_then_found_again(server, project):
    server.search_lag = 3600
    claimed = datetime.now(UTC)
    server.add_fault(Fault("drop_after"), method="POST")
    adapter = make_adapter(server)

    with pytest.raises(TrackerTransientError) as caught:
        adapter.create_issue(content())

    assert caught.value.outcome_unknown is True
    assert len(server.requests_to("POST", r"/issues$")) == 1  # never retried
    assert len(server.issues) == 1  # ... although it reached GitLab
    found = adapter.find_issue(FP, created_after=claimed)
    assert found is not None and found.external_id == "1"
    assert found.url == f"{server.url}/acme/webapp/-/issues/1"


def test_connection_refused_is_transient_and_known_not_sent():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = GitLabAdapter(TrackerSettings(type="gitlab", token=TOKEN, project_id="acme/webapp",
                                            instance_url=f"http://127.0.0.1:{port}", timeout=2,
                                            allowed_hosts=ALLOWED))
    adapter.RETRY_BACKOFF = 0.01
    with pytest.raises(TrackerTransientError) as caught:
        adapter.create_issue(content())
    assert caught.value.outcome_unknown is False
    result = adapter.test_connection()
    assert not result.ok and "Could not reach GitLab" in result.message


def test_token_is_not_followed_to_another_host_on_redirect(server):
    other = FakeGitLab().start()
    try:
        server.add_fault(Fault("status", status=302, headers={"Location": f"{other.url}/api/v4/projects/42/issues/1"},
                               body=""), method="GET")
        with pytest.raises(TrackerError):
            make_adapter(server).get_issue("1")
        assert other.requests, "the redirect was followed"
        assert all("private-token" not in r.headers for r in other.requests)
        assert all(TOKEN not in str(r.headers) for r in other.requests)
    finally:
        other.stop()


def test_token_never_in_messages_or_logs(server, project, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    server.add_issue(project, "Seeded", author="alice")
    errors: list[Exception] = []
    messages: list[str] = []

    def attempt(fn):
        try:
            fn()
        except TrackerError as exc:
            errors.append(exc)
        server.clear_faults()

    good = make_adapter(server, timeout=0.3)
    bad = make_adapter(server, token=TOKEN + "-revoked")
    attempt(lambda: bad.create_issue(content()))
    messages.append(bad.test_connection().message)
    server.add_fault(Fault("status", status=400, body={"message": f"token {TOKEN} is odd"}), method="POST")
    attempt(lambda: good.create_issue(content()))
    server.add_fault(Fault("status", status=502), method="GET", times=5)
    attempt(lambda: good.get_issue("1"))
    server.add_fault(Fault("delay", seconds=0.8), method="POST")
    attempt(lambda: good.create_issue(content()))
    server.add_fault(Fault("rate_limit", retry_after=3))
    attempt(lambda: good.comment("1", "x"))
    attempt(lambda: make_adapter(server, project_id="nope/nope").get_issue("1"))
    server.set_access(project, BOT, GUEST)
    attempt(lambda: good.close_issue("1", ""))
    messages.append(good.test_connection().message)

    assert len(errors) == 7
    assert any("GitLab rejected the request" in str(e) and "***" in str(e) for e in errors)
    for text in [*(str(e) for e in errors), *(repr(e) for e in errors), *messages, caplog.text]:
        assert TOKEN not in text
    # No python-gitlab or requests exception rides along in a traceback.
    assert all(e.__cause__ is None and (e.__context__ is None or e.__suppress_context__) for e in errors)
    assert "urllib3" in caplog.text  # DEBUG logging really was on


# --- test_connection -------------------------------------------------------------------------------------------------


def test_connection_ok(server):
    result = make_adapter(server).test_connection()
    assert result.ok, result.message
    assert "@certifai-bot" in result.message and "acme/webapp" in result.message and "Reporter" in result.message


def test_connection_ok_by_id_with_group_access(server):
    server.add_user("group-bot", token="glpat-group")
    server.add_project("acme/api", project_id=43, group_members={"group-bot": DEVELOPER})
    result = make_adapter(server, project_id="43", token="glpat-group").test_connection()
    assert result.ok and "Developer" in result.message


def test_connection_ok_for_planner(server, project):
    server.set_access(project, BOT, PLANNER)
    assert make_adapter(server).test_connection().ok


def test_connection_bad_token(server):
    result = make_adapter(server, token="glpat-wrong").test_connection()
    assert not result.ok
    assert result.message.startswith("GitLab rejected the token (401): create a token with the api scope")
    assert len(server.requests) == 1


def test_connection_missing_project(server):
    result = make_adapter(server, project_id="acme/missing").test_connection()
    assert not result.ok
    assert "acme/missing" in result.message and "not found" in result.message


def test_connection_no_project_set(server):
    result = make_adapter(server, project_id="").test_connection()
    assert not result.ok and "No GitLab project" in result.message


def test_connection_guest_only(server, project):
    server.set_access(project, BOT, GUEST)
    result = make_adapter(server).test_connection()
    assert not result.ok
    assert "Guest" in result.message and "Reporter" in result.message


def test_connection_not_a_member_of_a_public_project(server):
    server.add_project("oss/lib", project_id=50, visibility="public", members={"alice": REPORTER})
    result = make_adapter(server, project_id="oss/lib").test_connection()
    assert not result.ok and "not a member" in result.message


def test_connection_issues_disabled(server, project):
    project.issues_access_level = "disabled"
    result = make_adapter(server).test_connection()
    assert not result.ok and "Issues are turned off" in result.message


def test_connection_archived_project(server, project):
    project.archived = True
    result = make_adapter(server).test_connection()
    assert not result.ok and "archived" in result.message


def test_connection_read_api_token(server):
    server.add_token(BOT, "glpat-readonly", scopes=("read_api",))
    result = make_adapter(server, token="glpat-readonly").test_connection()
    assert not result.ok and "api scope" in result.message and "read_api" in result.message


def test_connection_admin_needs_no_membership(server):
    server.add_user("root", token="glpat-root", is_admin=True)
    result = make_adapter(server, token="glpat-root").test_connection()
    assert result.ok and "administrator" in result.message


def test_connection_never_raises(server):
    server.add_fault(Fault("status", status=500), times=10)
    result = make_adapter(server).test_connection()
    assert not result.ok and "500" in result.message


# --- the fake against GitLab's documented behaviour ------------------------------------------------------------


def api(server, path, token=TOKEN, **kwargs):
    return requests.get(f"{server.url}/api/v4{path}", headers={"PRIVATE-TOKEN": token}, timeout=5, **kwargs)


def test_fake_pagination_headers_as_documented(server, project):
    for n in range(8):
        server.add_issue(project, f"Issue {n + 1}")
    response = api(server, "/projects/42/issues", params={"per_page": 3, "page": 2, "sort": "asc"})
    assert response.status_code == 200
    assert [i["iid"] for i in response.json()] == [4, 5, 6]
    headers = response.headers
    assert (headers["x-page"], headers["x-per-page"], headers["x-next-page"], headers["x-prev-page"]) == (
        "2", "3", "3", "1")
    assert (headers["x-total"], headers["x-total-pages"]) == ("8", "3")
    links = {rel: link["url"] for rel, link in response.links.items()}
    assert set(links) == {"prev", "next", "first", "last"}
    assert links["next"].startswith(f"{server.url}/api/v4/projects/42/issues?")
    assert "page=3" in links["next"] and "per_page=3" in links["next"] and "sort=asc" in links["next"]
    assert "page=1" in links["prev"] and "page=3" in links["last"]

    last = api(server, "/projects/42/issues", params={"per_page": 3, "page": 3})
    assert last.headers["x-next-page"] == "" and "next" not in last.links and len(last.json()) == 2
    assert api(server, "/projects/42/issues", params={"per_page": 1000}).headers["x-per-page"] == "100"
    assert api(server, "/projects/42/issues").headers["x-per-page"] == "20"


def test_fake_pagination_followed_by_python_gitlab(server, project):
    for n in range(45):
        server.add_issue(project, f"Issue {n + 1}")
    gl = gitlab.Gitlab(url=server.url, private_token=TOKEN)
    issues = gl.projects.get(42, lazy=True).issues.list(get_all=True, per_page=20)
    assert sorted(i.iid for i in issues) == list(range(1, 46))
    assert len(server.requests_to("GET", r"/issues$")) == 3


def test_fake_authentication(server):
    assert api(server, "/user").json()["username"] == BOT
    bearer = requests.get(f"{server.url}/api/v4/user", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert bearer.status_code == 200
    for response in (api(server, "/user", token="nope"), requests.get(f"{server.url}/api/v4/user", timeout=5)):
        assert response.status_code == 401 and response.json() == {"message": "401 Unauthorized"}
    assert api(server, "/personal_access_tokens/self").json()["scopes"] == ["api"]


def test_fake_project_by_id_or_encoded_path(server):
    by_path = api(server, "/projects/acme%2Fwebapp").json()
    by_id = api(server, "/projects/42").json()
    assert by_path == by_id
    assert by_id["path_with_namespace"] == "acme/webapp" and by_id["web_url"] == f"{server.url}/acme/webapp"
    assert by_id["permissions"] == {"project_access": {"access_level": REPORTER, "notification_level": 3},
                                    "group_access": None}
    assert by_id["issues_enabled"] is True and by_id["issues_access_level"] == "enabled"
    missing = api(server, "/projects/acme%2Fnope")
    assert missing.status_code == 404 and missing.json() == {"message": "404 Project Not Found"}


def test_fake_rate_limit_headers_and_429(server):
    server.limits["throttle_authenticated_api"] = 2
    server.clock = lambda: 1_800_000_045.5
    first = api(server, "/user")
    assert first.headers["RateLimit-Limit"] == "2"
    assert first.headers["RateLimit-Observed"] == "1" and first.headers["RateLimit-Remaining"] == "1"
    assert first.headers["RateLimit-Reset"] == "1800000060"
    assert first.headers["RateLimit-ResetTime"].endswith("GMT")
    api(server, "/user")
    third = api(server, "/user")
    assert third.status_code == 429
    assert third.headers["Retry-After"] == "15" and third.headers["RateLimit-Remaining"] == "0"
    server.clock = lambda: 1_800_000_061.0  # the next window
    assert api(server, "/user").status_code == 200


def test_fake_issue_filters(server, project):
    server.search_lag = 3600
    now = time.time()
    server.add_issue(project, "Old SQL", description="sql", labels=["certifai", "a"], created_at=now - 7200)
    server.add_issue(project, "New SQL", description="sql", labels=["certifai"], state="closed", indexed=False)
    server.add_issue(project, "Other", labels=["a"])

    def iids(**params):
        return sorted(i["iid"] for i in api(server, "/projects/42/issues", params=params).json())

    assert iids() == [1, 2, 3]
    assert iids(state="opened") == [1, 3] and iids(state="closed") == [2]
    assert iids(labels="certifai,a") == [1] and iids(labels="certifai") == [1, 2]
    assert iids(**{"iids[]": ["1", "3"]}) == [1, 3]
    since = datetime.fromtimestamp(now - 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert iids(created_after=since) == [2, 3]
    assert iids(search="sql") == [1]  # "New SQL" is not indexed yet
    server.reindex()
    assert iids(search="sql") == [1, 2]


def test_fake_edit_and_notes_follow_the_docs(server, project):
    server.add_issue(project, "Seeded", labels=["certifai"])
    url = f"{server.url}/api/v4/projects/42/issues/1"
    headers = {"PRIVATE-TOKEN": TOKEN}
    closed = requests.put(url, headers=headers, data={"state_event": "close", "add_labels": "x,y"}, timeout=5).json()
    assert closed["state"] == "closed" and closed["closed_at"] and closed["labels"] == ["certifai", "x", "y"]
    assert closed["references"]["full"] == "acme/webapp#1"
    reopened = requests.put(url, headers=headers, json={"state_event": "reopen", "remove_labels": "x"}, timeout=5)
    assert reopened.json()["state"] == "opened" and reopened.json()["closed_at"] is None
    assert reopened.json()["labels"] == ["certifai", "y"]
    note = requests.post(f"{url}/notes", headers=headers, json={"body": "hi"}, timeout=5)
    assert note.status_code == 201 and note.json()["noteable_iid"] == 1
    assert requests.post(f"{url}/notes", headers=headers, json={}, timeout=5).status_code == 400
    created = requests.post(f"{server.url}/api/v4/projects/42/issues", headers=headers, json={"title": "T"}, timeout=5)
    assert created.status_code == 201 and created.json()["iid"] == 2 and created.json()["state"] == "opened"
