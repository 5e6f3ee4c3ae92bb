"""Jira adapter (Cloud and Data Center) against the fake Jira, through the real `jira` library over HTTP.
No database."""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from jira.resilientsession import ResilientSession

from trackers.adapters import jira as jira_module
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
from trackers.adapters.jira import JiraAdapter, is_accepted_risk, normalise_base_url
from trackers.adapters.jira_format import (
    MAX_TEXT,
    adf_text,
    comment_body,
    description,
    jira_labels,
    jira_summary,
    text_size,
    wiki_text,
)
from trackers.adapters.registry import adapter_class
from trackers.fakes.base import Fault
from trackers.fakes.jira import FakeJira, IssueType, Status, Transition, Workflow, adf_problem, adf_to_text

TOKEN = "jira-TOPSECRET-9d3e1f7a"
# The fakes listen on 127.0.0.1 over http: allowed explicitly, as CERTIFAI_TRACKER_ALLOWED_HOSTS would.
ALLOWED = ("127.0.0.1",)
EMAIL = "bot@example.com"
FP = "a3" * 32
OTHER_FP = "b4" * 32


@pytest.fixture(autouse=True)
def fresh_priority_cache():
    jira_module._PRIORITY_CACHE.clear()
    yield
    jira_module._PRIORITY_CACHE.clear()


@pytest.fixture(autouse=True)
def no_library_retry(monkeypatch):
    """The jira library must never retry or sleep on its own (max_retries=0)."""

    def guarded(*args, **kwargs):
        raise AssertionError("the jira library tried to retry a request")

    monkeypatch.setattr(ResilientSession, "_ResilientSession__recoverable", guarded)


def start(deployment, **kwargs):
    return FakeJira(deployment=deployment, email=EMAIL, token=TOKEN, **kwargs).start()


@pytest.fixture(params=["cloud", "datacenter"])
def server(request):
    fake = start(request.param)
    yield fake
    fake.stop()


@pytest.fixture
def cloud():
    fake = start("cloud")
    yield fake
    fake.stop()


@pytest.fixture
def dc():
    fake = start("datacenter")
    yield fake
    fake.stop()


def make_adapter(server, token=TOKEN, email=None, timeout=5.0, labels=("team a", "appsec"), issue_type="Bug",
                 project_key="SEC"):
    if email is None:
        email = EMAIL if server.cloud else ""
    adapter = JiraAdapter(TrackerSettings(type="jira", token=token, project_key=project_key, instance_url=server.url,
                                          email=email, issue_type=issue_type, labels=labels, timeout=timeout,
                                          allowed_hosts=ALLOWED))
    adapter.RETRY_BACKOFF = 0.01
    return adapter


def content(fingerprint=FP, **overrides):
    values = dict(
        fingerprint=fingerprint, severity="high", rule_id="python.sqli", rule_title="SQL injection",
        description="User input reaches `cursor.execute`.\n\nSee https://owasp.org/Top10/A03_2021-Injection/ now.",
        file_path="app/db.py", start_line=12, end_line=14, tool="semgrep",
        finding_url="http://certifai.test/findings/1", source_url="https://git.test/acme/app/blob/main/app/db.py#L12",
        snippet="cur.execute(q % x)  # {code} [x|y] *z*",
    )
    values.update(overrides)
    return IssueContent(**values)


def api(server):
    return "/rest/api/3" if server.cloud else "/rest/api/2"


def nodes(node):
    """Every node of an ADF document."""
    yield node
    for child in node.get("content") or []:
        yield from nodes(child)


def searched_jql(server):
    found = []
    for request in server.requests:
        if request.path.endswith("/search/jql") and request.method == "POST":
            found.append(request.json()["jql"])
        elif request.path.endswith("/search") or request.path.endswith("/search/jql"):
            found.append(request.arg("jql"))
    return found


def custom_workflow(way_back=True):
    """No "Reopen" anywhere; closing needs a resolution on the screen; "Reject" has no screen."""
    transitions = [
        Transition("11", "Start work", "Working", sources=("Backlog",)),
        Transition("41", "Reject", "Rejected", sources=("Backlog", "Working")),
        Transition("21", "Close", "Closed", sources=("Backlog", "Working"), resolution="required"),
    ]
    if way_back:
        transitions.append(Transition("31", "Reconsider", "Backlog", sources=("Closed", "Rejected")))
    return Workflow(
        statuses=[Status("Backlog", "new", "1"), Status("Working", "indeterminate", "3"),
                  Status("Closed", "done", "6"), Status("Rejected", "done", "7")],
        transitions=transitions,
        initial="Backlog",
    )


# --- registry and helpers -----------------------------------------------------------------------------------------


def test_registered_under_jira():
    cls = adapter_class("jira")
    assert cls is JiraAdapter
    assert (cls.type, cls.display_name) == ("jira", "Jira")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://acme.atlassian.net/", "https://acme.atlassian.net"),
        ("https://acme.atlassian.net/browse/SEC-12", "https://acme.atlassian.net"),
        ("https://acme.atlassian.net/jira/software/projects/SEC/boards/1", "https://acme.atlassian.net"),
        (" https://jira.example.com/jira ", "https://jira.example.com/jira"),
        ("https://jira.example.com/jira/browse/SEC-1", "https://jira.example.com/jira"),
    ],
)
def test_base_url_forms(value, expected):
    assert normalise_base_url(value) == expected


@pytest.mark.parametrize(
    ("name", "accepted"),
    [("Won't Do", True), ("won't fix", True), ("Won\u2019t Do", True), ("WONT FIX", True), ("Done", False),
     ("Duplicate", False), (None, False)],
)
def test_accepted_risk_resolution_names(name, accepted):
    assert is_accepted_risk(name) is accepted


# --- rendering ----------------------------------------------------------------------------------------------------


def test_labels_have_no_spaces_and_no_duplicates():
    assert jira_labels(content(), ("team a", " appsec ", "certifai", "", "x\ty")) == [
        "certifai", "severity-high", "team-a", "appsec", "x-y"]


def test_summary_is_one_line_within_255():
    assert jira_summary(content(rule_title="SQL\ninjection")) == "[HIGH] SQL injection in app/db.py:12"
    assert len(jira_summary(content(file_path="a/" * 200))) <= 255


def test_adf_description_structure():
    doc = description(content(), adf=True)
    assert adf_problem(doc) is None
    all_nodes = list(nodes(doc))
    assert {"heading", "codeBlock", "paragraph", "hardBreak"} - {n["type"] for n in all_nodes} <= {"hardBreak"}
    [code] = [n for n in all_nodes if n["type"] == "codeBlock"]
    assert code["content"] == [{"type": "text", "text": "cur.execute(q % x)  # {code} [x|y] *z*"}]
    links = {m["attrs"]["href"] for n in all_nodes for m in n.get("marks", []) if m["type"] == "link"}
    assert links == {"http://certifai.test/findings/1", "https://git.test/acme/app/blob/main/app/db.py#L12",
                     "https://owasp.org/Top10/A03_2021-Injection/"}
    assert any(n.get("text") == "cursor.execute" and n["marks"] == [{"type": "code"}] for n in all_nodes)
    assert all(n["text"] for n in all_nodes if n["type"] == "text")
    assert f"certifai:fingerprint={FP}" in adf_to_text(doc)


def test_wiki_description_escapes_free_text():
    text = description(content(description="Use *args and {x} [here] -- h1. no", rule_title="A (x) B"), adf=False)
    assert "h3. Details\nUse \\*args and \\{x\\} \\[here\\] \\-\\- h1. no" in text
    assert "{{python.sqli}} (A \\(x) B)" in text
    # The snippet holds "{code}", so it goes into a {noformat} block it cannot close.
    assert "{noformat}\ncur.execute(q % x)  # {code} [x|y] *z*\n{noformat}" in text
    assert "[View this finding in Certifai|http://certifai.test/findings/1]" in text
    assert "[app/db.py:12|https://git.test/acme/app/blob/main/app/db.py#L12]" in text
    assert text.endswith(f"Fingerprint: {{{{{FP}}}}}\ncertifai:fingerprint={FP}")


@pytest.mark.parametrize("adf", [True, False])
def test_description_stays_within_jira_limit(adf):
    huge = content(description="Line with `code` and https://x.test/a\n" * 3000,
                   snippet="x = '\u00e9\u20ac'\n" * 5000)
    value = description(huge, adf=adf)
    assert text_size(value) <= MAX_TEXT
    text = adf_to_text(value) if adf else value
    assert f"certifai:fingerprint={FP}" in text and "(truncated)" in text


@pytest.mark.parametrize("adf", [True, False])
def test_comment_keeps_markers_and_limit(adf):
    text = "Moved to line 40.\n\n" + "filler " * 10000 + f"\n\n{fingerprint_marker(OTHER_FP)}"
    value = comment_body(text, adf=adf)
    assert text_size(value) <= MAX_TEXT
    rendered = adf_to_text(value) if adf else value
    assert f"certifai:fingerprint={OTHER_FP}" in rendered and "<!--" not in rendered
    assert adf_problem(adf_text("a\n\n```\ncode\n```\n\n**b** [c](https://c.test)")) is None
    assert wiki_text("**b** [c](https://c.test) `d`") == "*b* [c|https://c.test] {{d}}"


# --- operations ---------------------------------------------------------------------------------------------------


def test_create_issue_cloud_stores_adf(cloud):
    issue = make_adapter(cloud).create_issue(content())

    assert issue.external_id == "SEC-1"
    assert issue.url == f"{cloud.url}/browse/SEC-1"
    assert (issue.status, issue.state, issue.accepted_risk) == ("To Do", "open", False)
    assert issue.title == "[HIGH] SQL injection in app/db.py:12"
    assert f"certifai:fingerprint={FP}" in issue.body
    stored = cloud.issue("SEC-1")
    assert isinstance(stored["description"], dict) and adf_problem(stored["description"]) is None
    assert {"heading", "codeBlock"} <= {n["type"] for n in nodes(stored["description"])}
    assert stored["labels"] == ["certifai", "severity-high", "team-a", "appsec"]
    assert stored["priority"] == ("2", "High")
    [post] = cloud.requests_to("POST", r"/issue$")
    assert post.path == "/rest/api/3/issue"
    sent = post.json()["fields"]
    assert sent["issuetype"] == {"name": "Bug"} and sent["project"] == {"key": "SEC"}
    assert post.headers["authorization"] == "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert not cloud.requests_to("GET", r"/serverInfo$")  # no start-up calls


def test_create_issue_datacenter_stores_wiki_markup(dc):
    issue = make_adapter(dc).create_issue(content())

    stored = dc.issue(issue.external_id)
    assert isinstance(stored["description"], str)
    assert "h3. Code\n{noformat}" in stored["description"]
    assert "[View this finding in Certifai|http://certifai.test/findings/1]" in stored["description"]
    assert stored["labels"] == ["certifai", "severity-high", "team-a", "appsec"]
    [post] = dc.requests_to("POST", r"/issue$")
    assert post.path == "/rest/api/2/issue"
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert issue.body == stored["description"]


def test_create_issue_with_a_huge_finding(server):
    huge = content(description="d" * 40000, snippet="s\n" * 30000)
    issue = make_adapter(server).create_issue(huge)
    assert f"certifai:fingerprint={FP}" in issue.body


def test_priority_only_when_the_site_has_it_and_looked_up_once(server):
    server.priorities = [("1", "Blocker"), ("2", "Critical"), ("3", "Major"), ("4", "Minor")]
    adapter = make_adapter(server)
    adapter.create_issue(content(severity="critical"))
    make_adapter(server).create_issue(content(fingerprint=OTHER_FP, severity="info"))

    assert server.issue("SEC-1")["priority"] == ("2", "Critical")
    first, second = server.requests_to("POST", r"/issue$")
    assert first.json()["fields"]["priority"] == {"name": "Critical"}
    assert "priority" not in second.json()["fields"]  # no "Lowest" nor "Trivial" on this site
    assert len(server.requests_to("GET", r"/priority$")) == 1


def test_priority_not_on_the_screen_files_without_it(server):
    server.project().priority_on_screen = False
    issue = make_adapter(server).create_issue(content())

    refused, accepted = server.requests_to("POST", r"/issue$")
    assert "priority" in refused.json()["fields"] and "priority" not in accepted.json()["fields"]
    assert list(server.issues) == [issue.external_id]  # filed once


def test_priority_list_unavailable_files_without_priority(server):
    server.add_fault(Fault("status", status=404, body={"errorMessages": ["gone"], "errors": {}}), method="GET",
                     path=r"/priority$")
    make_adapter(server).create_issue(content())
    [post] = server.requests_to("POST", r"/issue$")
    assert "priority" not in post.json()["fields"]


def test_get_issue_reads_status_and_created_in_utc(server):
    seeded = server.add_issue("SEC", "Seeded", description=None, status="In Progress",
                              created=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    issue = make_adapter(server).get_issue(seeded["key"].lower())

    assert (issue.status, issue.state) == ("In Progress", "open")
    assert issue.created == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert issue.created.tzinfo is UTC
    [get] = server.requests_to("GET", r"/issue/SEC-1$")
    assert get.path == f"{api(server)}/issue/SEC-1"


def test_default_workflow_close_and_reopen(server):
    adapter = make_adapter(server)
    key = adapter.create_issue(content()).external_id

    closed = adapter.close_issue(key, "Fixed in `abc123`.")
    assert (closed.status, closed.state, closed.accepted_risk) == ("Done", "closed", False)
    assert server.issue(key)["resolution"]["name"] == "Done"  # set by the workflow's post-function

    reopened = adapter.reopen_issue(key, "It came back.")
    assert (reopened.status, reopened.state) == ("To Do", "open")
    assert server.issue(key)["resolution"] is None
    [close_post, reopen_post] = server.requests_to("POST", r"/transitions$")
    assert close_post.json() == {"transition": {"id": 31}, "fields": {}}  # "Done": no screen, no fields sent
    assert reopen_post.json()["transition"] == {"id": 11}
    comments = [c["body"] for c in server.issue(key)["comments"]]
    if server.cloud:
        assert all(isinstance(c, dict) and adf_problem(c) is None for c in comments)
        assert [adf_to_text(c) for c in comments] == ["Fixed in abc123.", "It came back."]
    else:
        assert comments == ["Fixed in {{abc123}}.", "It came back."]


def test_accepted_risk_without_a_resolution_screen_is_said_in_the_comment_only(server):
    """Jira Software's simplified workflow: "Done" has no screen and its post-function sets Done. Jira refuses a
    resolution sent with it, so the reason can only be given in the comment (a documented limit)."""
    seeded = server.add_issue("SEC", "Seeded")
    closed = make_adapter(server).close_issue(seeded["key"], "Accepted risk.", accepted_risk=True)
    assert (closed.state, closed.accepted_risk) == ("closed", False)
    [post] = server.requests_to("POST", r"/transitions$")
    assert post.json()["fields"] == {}


def test_accepted_risk_on_a_screen_with_a_required_resolution(server):
    server.project().workflow = custom_workflow()
    adapter = make_adapter(server)
    key = adapter.create_issue(content()).external_id
    assert adapter.get_issue(key).status == "Backlog"

    closed = adapter.close_issue(key, "Risk accepted by the team.", accepted_risk=True)

    assert (closed.status, closed.state, closed.accepted_risk) == ("Closed", "closed", True)
    assert server.issue(key)["resolution"]["name"] == "Won't Do"
    [post] = server.requests_to("POST", r"/transitions$")
    assert post.json()["transition"] == {"id": 21}
    assert post.json()["fields"] == {"resolution": {"id": "10001"}}
    [listing] = server.requests_to("GET", r"/transitions$")
    assert listing.arg("expand") == "transitions.fields"


def test_close_as_fixed_picks_done_among_the_allowed_resolutions(server):
    server.project().workflow = custom_workflow()
    server.resolutions = [("1", "Fixed"), ("2", "Won't Fix"), ("3", "Duplicate")]
    adapter = make_adapter(server)
    key = adapter.create_issue(content()).external_id

    closed = adapter.close_issue(key, "")
    assert (closed.status, closed.accepted_risk) == ("Closed", False)
    assert server.issue(key)["resolution"]["name"] == "Fixed"
    assert not server.issue(key)["comments"]  # no comment asked, none posted

    reopened = adapter.reopen_issue(key, "")  # through "Reconsider": no transition is called "Reopen"
    assert (reopened.status, reopened.state) == ("Backlog", "open")
    assert adapter.close_issue(key, "", accepted_risk=True).accepted_risk is True
    assert server.issue(key)["resolution"]["name"] == "Won't Fix"


def test_close_avoids_a_screen_that_asks_for_more(server):
    workflow = custom_workflow()
    workflow.transitions.insert(0, Transition("61", "Close after review", "Closed", sources=("Backlog",),
                                              resolution="required", required_fields=("customfield_10050",)))
    server.project().workflow = workflow
    seeded = server.add_issue("SEC", "Seeded")
    closed = make_adapter(server).close_issue(seeded["key"], "")
    assert closed.status == "Closed"
    [post] = server.requests_to("POST", r"/transitions$")
    assert post.json()["transition"] == {"id": 21}


def test_no_way_back_is_a_config_error_naming_the_transitions(server):
    server.project().workflow = custom_workflow(way_back=False)
    seeded = server.add_issue("SEC", "Closed for good", status="Closed", resolution="Done")
    with pytest.raises(TrackerConfigError, match="no transition leads back to an open status") as caught:
        make_adapter(server).reopen_issue(seeded["key"], "Came back")
    assert "none is available" in str(caught.value)
    assert not server.requests_to("POST", r"/transitions$|/comment$")

    server.project().workflow.transitions.append(Transition("51", "Archive", "Closed", sources=("Rejected",)))
    seeded = server.add_issue("SEC", "Rejected", status="Rejected")
    with pytest.raises(TrackerConfigError, match="'Archive' to 'Closed' \\(done\\)"):
        make_adapter(server).reopen_issue(seeded["key"], "")


def test_no_transition_to_done_is_a_config_error(server):
    server.permissions.discard("TRANSITION_ISSUES")  # Jira then lists no transitions at all
    seeded = server.add_issue("SEC", "Open")
    with pytest.raises(TrackerConfigError, match="Transition Issues"):
        make_adapter(server).close_issue(seeded["key"], "Fixed.")
    assert server.issue(seeded["key"])["status"] == "To Do"


def test_closing_a_closed_issue_only_comments(server):
    seeded = server.add_issue("SEC", "Done already", status="Done", resolution="Won't Do")
    issue = make_adapter(server).close_issue(seeded["key"], "Still fixed.")
    assert issue.accepted_risk is True
    assert not server.requests_to("GET", r"/transitions$") and not server.requests_to("POST", r"/transitions$")
    assert len(server.issue(seeded["key"])["comments"]) == 1


@pytest.mark.parametrize(
    ("status", "resolution", "state", "accepted"),
    [("Done", "Won't Do", "closed", True), ("Done", "Won't Fix", "closed", True), ("Done", "Done", "closed", False),
     ("Done", None, "closed", False), ("To Do", "Won't Do", "open", False)],
)
def test_accepted_risk_on_read(server, status, resolution, state, accepted):
    seeded = server.add_issue("SEC", "Seeded", status=status, resolution=resolution)
    issue = make_adapter(server).get_issue(seeded["key"])
    assert (issue.state, issue.accepted_risk) == (state, accepted)


def test_comment(server):
    seeded = server.add_issue("SEC", "Seeded")
    make_adapter(server).comment(seeded["key"], "See **this**: https://certifai.test/f/1.")
    [comment] = server.issue(seeded["key"])["comments"]
    if server.cloud:
        assert adf_problem(comment["body"]) is None
        assert adf_to_text(comment["body"]) == "See this: https://certifai.test/f/1."
    else:
        assert comment["body"] == "See *this*: https://certifai.test/f/1."


def test_blank_comment_is_not_sent(server):
    make_adapter(server).comment("SEC-1", "  ")
    assert not server.requests


def test_issue_key_is_checked_before_any_request(server):
    with pytest.raises(TrackerConfigError, match="not a Jira issue key"):
        make_adapter(server).get_issue("12")
    assert not server.requests


def test_unknown_issue_is_a_config_error(server):
    with pytest.raises(TrackerConfigError, match="404.*Issue does not exist"):
        make_adapter(server).get_issue("SEC-404")


# --- find and list ----------------------------------------------------------------------------------------------


def test_find_issue_by_text_checks_the_marker(server):
    adapter = make_adapter(server)
    server.add_issue("SEC", "Mentions it", description=f"Not ours, but says {FP}", labels=["certifai"])
    key = adapter.create_issue(content()).external_id

    found = adapter.find_issue(FP)
    assert found is not None and found.external_id == key
    assert adapter.find_issue("c5" * 32) is None
    if server.cloud:
        assert server.requests_to("POST", r"^/rest/api/3/search/jql$")
        assert not server.requests_to("GET", r"/search$") and not server.requests_to("POST", r"/search$")
    else:
        assert server.requests_to("GET", r"^/rest/api/2/search$")
    assert all("text ~" in jql for jql in searched_jql(server))


def test_find_issue_by_a_fingerprint_added_in_a_comment(server):
    adapter = make_adapter(server)
    key = adapter.create_issue(content()).external_id
    adapter.comment(key, f"The code moved to line 40.\n\n{fingerprint_marker(OTHER_FP)}")

    found = adapter.find_issue(OTHER_FP)
    assert found is not None and found.external_id == key


def test_find_issue_since_claim_uses_the_users_time_zone(server):
    claimed = datetime.now(UTC)
    adapter = make_adapter(server)
    key = adapter.create_issue(content()).external_id

    found = adapter.find_issue(FP, created_after=claimed)
    assert found is not None and found.external_id == key
    since = (claimed - JiraAdapter.CREATED_AFTER_MARGIN).astimezone(ZoneInfo("Australia/Sydney"))
    [jql] = searched_jql(server)  # found by the first query, the window since the claim
    assert jql == (f'project = "SEC" AND labels = "certifai" AND created >= "{since:%Y/%m/%d %H:%M}" '
                   "ORDER BY created ASC")


def test_connection_dropped_after_create_then_found_again(server):
    server.search_lag = 3600  # the search index won't see the new issue for an hour
    claimed = datetime.now(UTC)
    server.add_issue("SEC", "Someone else's, before", created=time.time() - 7200)
    server.add_fault(Fault("drop_after"), method="POST", path=r"/issue$")
    adapter = make_adapter(server)

    with pytest.raises(TrackerTransientError) as caught:
        adapter.create_issue(content())

    assert caught.value.outcome_unknown is True
    assert len(server.requests_to("POST", r"/issue$")) == 1  # never retried...
    assert "SEC-2" in server.issues  # ... although it reached Jira

    # While the index lags, search alone can't see it (documented): without created_after, None.
    assert adapter.find_issue(FP) is None
    # With created_after, the adapter reads the keys after the last one search knows, consistently.
    found = adapter.find_issue(FP, created_after=claimed)
    assert found is not None and found.external_id == "SEC-2"
    probes = [r.path.rsplit("/", 1)[-1] for r in server.requests_to("GET", r"/issue/SEC-\d+$")]
    assert probes == ["SEC-2"]

    server.reindex()  # the index caught up: search finds it too
    assert adapter.find_issue(FP).external_id == "SEC-2"


def test_probe_stops_after_a_few_missing_keys(server):
    server.search_lag = 3600
    claimed = datetime.now(UTC)
    adapter = make_adapter(server)
    assert adapter.find_issue(FP, created_after=claimed) is None
    probes = [r.path.rsplit("/", 1)[-1] for r in server.requests_to("GET", r"/issue/SEC-\d+$")]
    assert probes == ["SEC-1", "SEC-2", "SEC-3"]


def test_list_issues_pages_in_chunks_and_leaves_out_missing(server):
    server.max_page_size = 40
    for number in range(130):
        server.add_issue("SEC", f"Issue {number}", status="Done" if number % 2 else None)
    keys = [f"SEC-{n}" for n in range(1, 131)] + ["SEC-999", "not-a-key", "sec-5"]

    issues = make_adapter(server).list_issues(keys)

    assert [i.external_id for i in issues] == [f"SEC-{n}" for n in range(1, 131)]
    assert {i.state for i in issues} == {"open", "closed"}
    assert not server.requests_to("GET", r"/issue/")  # no request per issue
    searches = [r for r in server.requests if "/search" in r.path]
    # 100 keys: three pages of 40; then 30 keys + SEC-999: Cloud refuses the query once, Data Center warns.
    assert len(searches) == (5 if server.cloud else 4)
    assert all(jql.startswith("key in (") for jql in searched_jql(server))


def test_list_issues_with_nothing_to_ask_makes_no_request(server):
    assert make_adapter(server).list_issues(["", "7"]) == []
    assert not server.requests


# --- errors -------------------------------------------------------------------------------------------------------


def test_wrong_token_is_an_auth_error_after_one_request(server):
    with pytest.raises(TrackerAuthError) as caught:
        make_adapter(server, token="wrong").get_issue("SEC-1")
    hint = "email and an API token" if server.cloud else "personal access token"
    assert hint in str(caught.value) and "401" in str(caught.value)
    assert len(server.requests) == 1


def test_wrong_email_on_cloud_is_an_auth_error(cloud):
    with pytest.raises(TrackerAuthError, match="Atlassian account email"):
        make_adapter(cloud, email="someone@else.test").create_issue(content())
    assert len(cloud.requests) == 1 and not cloud.issues


def test_missing_permission_is_an_auth_error(server):
    server.permissions.discard("ADD_COMMENTS")
    seeded = server.add_issue("SEC", "Seeded")
    with pytest.raises(TrackerAuthError, match="403.*permission"):
        make_adapter(server).comment(seeded["key"], "x")


def test_unknown_project_is_a_config_error(server):
    with pytest.raises(TrackerConfigError, match="project") as caught:
        make_adapter(server, project_key="NOPE").create_issue(content())
    assert "400" in str(caught.value)
    assert len(server.requests_to("POST", r"/issue$")) == 1


def test_bad_issue_type_names_the_available_ones(server):
    with pytest.raises(TrackerConfigError) as caught:
        make_adapter(server, issue_type="Vulnerability").create_issue(content())
    message = str(caught.value)
    assert "'Vulnerability'" in message and "Available: Epic, Story, Task, Bug." in message
    assert len(server.requests_to("POST", r"/issue$")) == 1
    assert not server.issues


def test_rate_limited_with_retry_after_and_no_sleeping(server):
    server.add_fault(server.rate_limit_fault(retry_after=30), method="POST")
    started = time.monotonic()
    with pytest.raises(TrackerRateLimited) as caught:
        make_adapter(server).create_issue(content())
    assert time.monotonic() - started < 1
    assert caught.value.retry_after == 30 and caught.value.retryable
    assert len(server.requests_to("POST", r"/issue$")) == 1


def test_rate_limited_with_only_x_ratelimit_reset(cloud):
    reset = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%MZ")
    cloud.add_fault(Fault("status", status=429, headers={"X-RateLimit-Reset": reset}), method="GET")
    with pytest.raises(TrackerRateLimited) as caught:
        make_adapter(cloud).get_issue("SEC-1")
    assert 55 <= caught.value.retry_after <= 120
    assert len(cloud.requests) == 1  # a 429 is never retried in the client


def test_configured_rate_limit_of_the_fake(server):
    server.rate_limit = (3, 60.0)
    server.clock = lambda: 1_800_000_030.0  # 30 s into a one-minute window
    seeded = server.add_issue("SEC", "Seeded")
    adapter = make_adapter(server)
    for _ in range(3):
        adapter.get_issue(seeded["key"])
    with pytest.raises(TrackerRateLimited) as caught:
        adapter.get_issue(seeded["key"])
    assert caught.value.retry_after == 30


def test_bad_gateway_on_a_read_is_retried(server):
    seeded = server.add_issue("SEC", "Seeded")
    server.add_fault(Fault("status", status=502), method="GET", path=r"/issue/SEC-1$")
    assert make_adapter(server).get_issue(seeded["key"]).title == "Seeded"
    assert len(server.requests_to("GET", r"/issue/SEC-1$")) == 2


def test_reads_give_up_after_a_couple_of_retries(server):
    server.add_fault(Fault("status", status=502), method="GET", times=10)
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server).get_issue("SEC-1")
    assert caught.value.outcome_unknown is False
    assert len(server.requests) == 1 + JiraAdapter.GET_RETRIES


def test_service_unavailable_on_create_is_not_retried(server):
    server.add_fault(Fault("status", status=503), method="POST")
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server).create_issue(content())
    assert caught.value.outcome_unknown is True  # a gateway's 5xx does not prove the write did not happen
    assert len(server.requests_to("POST", r"/issue$")) == 1


def test_server_error_on_a_transition_is_not_retried(server):
    seeded = server.add_issue("SEC", "Seeded")
    server.add_fault(Fault("status", status=500), method="POST", path=r"/transitions$")
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server).close_issue(seeded["key"], "Fixed.")
    assert caught.value.outcome_unknown is True
    assert len(server.requests_to("POST", r"/transitions$")) == 1
    assert not server.issue(seeded["key"])["comments"]


def test_slow_write_beyond_timeout_is_transient_and_unknown(server):
    server.add_fault(Fault("delay", seconds=1.5), method="POST", path=r"/issue$")
    started = time.monotonic()
    with pytest.raises(TrackerTransientError) as caught:
        make_adapter(server, timeout=0.4).create_issue(content())
    assert time.monotonic() - started < 1.4
    assert caught.value.outcome_unknown is True
    assert len(server.requests_to("POST", r"/issue$")) == 1


def test_slow_reads_are_retried_then_transient(server):
    server.add_fault(Fault("delay", seconds=1.0), method="GET", times=3)
    with pytest.raises(TrackerTransientError, match="did not answer") as caught:
        make_adapter(server, timeout=0.3).get_issue("SEC-1")
    assert caught.value.outcome_unknown is False
    assert len(server.requests) == 3


def test_connection_refused_is_transient_and_known_not_sent():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = JiraAdapter(TrackerSettings(type="jira", token=TOKEN, project_key="SEC", email=EMAIL,
                                          instance_url=f"http://127.0.0.1:{port}", timeout=2,
                                          allowed_hosts=ALLOWED))
    adapter.RETRY_BACKOFF = 0.01
    with pytest.raises(TrackerTransientError) as caught:
        adapter.create_issue(content())
    assert caught.value.outcome_unknown is False
    result = adapter.test_connection()
    assert not result.ok and "Could not reach Jira" in result.message


def test_token_is_not_followed_to_another_host_on_redirect(server):
    other = start(server.deployment)
    try:
        server.add_fault(Fault("status", status=302, headers={"Location": f"{other.url}{api(server)}/issue/SEC-1"},
                               body=""), method="GET")
        with pytest.raises(TrackerError):
            make_adapter(server).get_issue("SEC-1")
        assert other.requests, "the redirect was followed"
        assert all("authorization" not in r.headers for r in other.requests)
    finally:
        other.stop()


def test_token_never_in_messages_or_logs(server, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "jira", "trackers"):
        caplog.set_level(logging.DEBUG, logger=name)
    basic = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()  # Cloud's Authorization header
    secrets = [TOKEN, basic] if server.cloud else [TOKEN]
    seeded = server.add_issue("SEC", "Seeded")
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
    echo = {"errorMessages": [f"token {TOKEN} is odd"], "errors": {"summary": f"{secrets[-1]} too"}}
    server.add_fault(Fault("status", status=400, body=echo), method="POST")
    attempt(lambda: good.create_issue(content()))
    server.add_fault(Fault("status", status=502), method="GET", times=5)
    attempt(lambda: good.get_issue(seeded["key"]))
    server.add_fault(Fault("delay", seconds=0.8), method="POST")
    attempt(lambda: good.create_issue(content()))
    server.add_fault(Fault("drop_after"), method="POST")
    attempt(lambda: good.comment(seeded["key"], "x"))
    server.add_fault(server.rate_limit_fault(3))
    attempt(lambda: good.comment(seeded["key"], "x"))
    attempt(lambda: make_adapter(server, project_key="NOPE").create_issue(content()))
    server.permissions.discard("ADD_COMMENTS")
    attempt(lambda: good.comment(seeded["key"], "x"))
    messages.append(good.test_connection().message)

    assert len(errors) == 8
    assert any("Jira rejected the request" in str(e) and "***" in str(e) for e in errors)
    for text in [*(str(e) for e in errors), *(repr(e) for e in errors), *messages, caplog.text]:
        for secret in secrets:
            assert secret not in text
    # No jira/requests exception (which carries the request headers) rides along in a traceback.
    assert all(e.__cause__ is None and e.__context__ is None for e in errors)
    assert "urllib3" in caplog.text  # DEBUG logging really was on


# --- test_connection ------------------------------------------------------------------------------------------------


def test_connection_ok(server):
    result = make_adapter(server).test_connection()
    assert result.ok, result.message
    deployment = "Jira Cloud" if server.cloud else "Jira Data Center"
    assert f"Connected to {deployment} as Certifai Bot" in result.message and "Bug issues in SEC" in result.message
    assert not [r for r in server.requests if r.method != "GET"]


def test_connection_bad_token(server):
    result = make_adapter(server, token="nope").test_connection()
    assert not result.ok
    assert ("API token" if server.cloud else "personal access token") in result.message


def test_connection_missing_project(server):
    result = make_adapter(server, project_key="NOPE").test_connection()
    assert not result.ok and "project NOPE was not found" in result.message


def test_connection_without_create_permission(server):
    server.permissions.discard("CREATE_ISSUES")
    result = make_adapter(server).test_connection()
    assert not result.ok and "Create Issues" in result.message


def test_connection_without_transition_permission_warns(server):
    server.permissions.discard("TRANSITION_ISSUES")
    result = make_adapter(server).test_connection()
    assert result.ok and "can't close or reopen" in result.message


def test_connection_bad_issue_type(server):
    result = make_adapter(server, issue_type="Vulnerability").test_connection()
    assert not result.ok and "Available: Epic, Story, Task, Bug" in result.message


def test_connection_required_field_we_do_not_fill(server):
    server.project().issue_types.append(IssueType("10010", "Security", required_fields={"components": "Component/s"}))
    result = make_adapter(server, issue_type="security").test_connection()
    assert not result.ok and "Component/s" in result.message


def test_connection_labels_not_on_the_screen(server):
    server.project().labels_on_screen = False
    result = make_adapter(server).test_connection()
    assert not result.ok and "Labels" in result.message


def test_connection_cloud_site_without_email_needs_no_request():
    adapter = JiraAdapter(TrackerSettings(type="jira", token=TOKEN, project_key="SEC",
                                          instance_url="https://acme.atlassian.net"))
    result = adapter.test_connection()
    assert not result.ok and "Jira Cloud" in result.message and "email" in result.message


@pytest.mark.parametrize(("field", "value", "words"), [("instance_url", "", "address"), ("project_key", "", "key"),
                                                       ("project_key", "sec-1", "not a Jira project key"),
                                                       ("token", "", "token")])
def test_connection_incomplete_settings(field, value, words):
    values = dict(type="jira", token=TOKEN, project_key="SEC", instance_url="https://jira.example.com")
    values[field] = value
    result = JiraAdapter(TrackerSettings(**values)).test_connection()
    assert not result.ok and words in result.message


def test_connection_never_raises(server):
    server.add_fault(Fault("status", status=200, body="<html>login</html>"), method="GET")
    result = make_adapter(server).test_connection()
    assert not result.ok and "not JSON" in result.message


# --- the fake follows the docs ---------------------------------------------------------------------------------------


def call(server, method, path, auth=True, **kwargs):
    headers = {}
    if auth:
        headers["Authorization"] = ("Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
                                    if server.cloud else f"Bearer {TOKEN}")
    return requests.request(method, server.url + path, headers=headers, timeout=5, **kwargs)


def test_fake_authentication(server):
    assert call(server, "GET", f"{api(server)}/myself").json()["displayName"] == "Certifai Bot"
    assert call(server, "GET", f"{api(server)}/myself", auth=False).status_code == 401
    info = call(server, "GET", f"{api(server)}/serverInfo", auth=False).json()
    assert info["deploymentType"] == ("Cloud" if server.cloud else "Server")
    wrong = "Bearer x" if server.cloud else "Basic " + base64.b64encode(b"certifai:" + TOKEN.encode()).decode()
    answer = requests.get(f"{server.url}{api(server)}/myself", headers={"Authorization": wrong}, timeout=5)
    assert answer.status_code == 401


def test_fake_rest_versions(server):
    assert call(server, "GET", "/rest/api/3/myself").status_code == (200 if server.cloud else 404)
    assert call(server, "GET", "/rest/api/2/myself").status_code == 200


def test_fake_old_search_is_gone_on_cloud(cloud):
    for path in ("/rest/api/3/search", "/rest/api/2/search"):
        answer = call(cloud, "GET", path, params={"jql": "project = SEC"})
        assert answer.status_code == 410 and "/search/jql" in answer.json()["errorMessages"][0]


def test_fake_datacenter_has_no_search_jql(dc):
    assert call(dc, "POST", "/rest/api/2/search/jql", json={"jql": "project = SEC"}).status_code == 404


def test_fake_v3_wants_adf_and_v2_strings(cloud):
    fields = {"project": {"key": "SEC"}, "summary": "S", "issuetype": {"name": "Bug"}, "description": "plain"}
    answer = call(cloud, "POST", "/rest/api/3/issue", json={"fields": fields})
    assert answer.status_code == 400
    assert answer.json()["errors"]["description"].startswith("Operation value must be an Atlassian Document")
    assert call(cloud, "POST", "/rest/api/2/issue", json={"fields": fields}).status_code == 201
    doc = call(cloud, "GET", "/rest/api/3/issue/SEC-1").json()["fields"]["description"]
    assert doc["type"] == "doc" and adf_to_text(doc) == "plain"
    bad_adf = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text",
                                                                                            "text": ""}]}]}
    assert call(cloud, "POST", "/rest/api/3/issue", json={"fields": fields | {"description": bad_adf}}).status_code \
        == 400
    assert call(cloud, "POST", "/rest/api/3/issue/SEC-1/comment", json={"body": "plain"}).status_code == 400


def test_fake_create_validation(server):
    base = {"project": {"key": "SEC"}, "summary": "S", "issuetype": {"name": "Bug"}}
    cases = [
        ({"labels": ["has space"]}, "labels", "The label 'has space' contains spaces which is invalid."),
        ({"issuetype": {"name": "Nope"}}, "issuetype", None),
        ({"summary": "x" * 256}, "summary", "Summary must be less than 255 characters."),
        ({"summary": "two\nlines"}, "summary", None),
        ({"priority": {"name": "Urgent"}}, "priority", None),
        ({"duedate": "2024-01-01"}, "duedate", "Field 'duedate' cannot be set. It is not on the appropriate screen, "
                                               "or unknown."),
    ]
    for change, field, message in cases:
        answer = call(server, "POST", f"{api(server)}/issue", json={"fields": base | change})
        assert answer.status_code == 400, change
        assert field in answer.json()["errors"]
        if message:
            assert answer.json()["errors"][field] == message
    assert not server.issues


def test_fake_transitions_and_resolution_screen(server):
    server.project().workflow = custom_workflow()
    call(server, "POST", f"{api(server)}/issue",
         json={"fields": {"project": {"key": "SEC"}, "summary": "S", "issuetype": {"name": "Bug"}}})
    listed = call(server, "GET", f"{api(server)}/issue/SEC-1/transitions",
                  params={"expand": "transitions.fields"}).json()["transitions"]
    assert [(t["name"], t["to"]["name"], t["to"]["statusCategory"]["key"]) for t in listed] == [
        ("Start work", "Working", "indeterminate"), ("Reject", "Rejected", "done"), ("Close", "Closed", "done")]
    close = listed[2]["fields"]["resolution"]
    assert close["required"] is True
    assert [v["name"] for v in close["allowedValues"]] == ["Done", "Won't Do", "Won't Fix", "Duplicate",
                                                           "Cannot Reproduce"]
    assert "fields" not in call(server, "GET", f"{api(server)}/issue/SEC-1/transitions").json()["transitions"][0]

    missing = call(server, "POST", f"{api(server)}/issue/SEC-1/transitions", json={"transition": {"id": "21"}})
    assert missing.status_code == 400 and "resolution" in missing.json()["errors"]
    no_screen = call(server, "POST", f"{api(server)}/issue/SEC-1/transitions",
                     json={"transition": {"id": "41"}, "fields": {"resolution": {"name": "Done"}}})
    assert no_screen.status_code == 400 and "cannot be set" in no_screen.json()["errors"]["resolution"]
    unknown = call(server, "POST", f"{api(server)}/issue/SEC-1/transitions", json={"transition": {"id": "31"}})
    assert unknown.status_code == 400  # "Reconsider" is not available from Backlog
    done = call(server, "POST", f"{api(server)}/issue/SEC-1/transitions",
                json={"transition": {"id": "21"}, "fields": {"resolution": {"name": "Duplicate"}}})
    assert done.status_code == 204
    issue = call(server, "GET", f"{api(server)}/issue/SEC-1", params={"fields": "status,resolution"}).json()
    assert issue["fields"]["status"]["statusCategory"]["key"] == "done"
    assert issue["fields"]["resolution"]["name"] == "Duplicate"
    assert set(issue["fields"]) == {"status", "resolution"}


def test_fake_search_jql_pages_and_lags(cloud):
    cloud.search_lag = 600
    for n in range(5):
        cloud.add_issue("SEC", f"Issue {n}", labels=["certifai"])
    cloud.add_issue("SEC", "Fresh", labels=["certifai"], indexed=False)
    body = {"jql": "project = SEC AND labels = certifai ORDER BY key ASC", "maxResults": 2, "fields": ["summary"]}
    keys, token = [], None
    while True:
        page = call(cloud, "POST", "/rest/api/3/search/jql", json=body | ({"nextPageToken": token} if token else {}))
        data = page.json()
        keys += [i["key"] for i in data["issues"]]
        assert set(data["issues"][0]["fields"]) == {"summary"}
        if data["isLast"]:
            assert "nextPageToken" not in data
            break
        token = data["nextPageToken"]
    assert keys == ["SEC-1", "SEC-2", "SEC-3", "SEC-4", "SEC-5"]  # SEC-6 is not in the index yet
    fresh = cloud.issue("SEC-6")["id"]
    reconciled = call(cloud, "POST", "/rest/api/3/search/jql",
                      json={"jql": "key = SEC-6", "reconcileIssues": [int(fresh)]}).json()
    assert [i["key"] for i in reconciled["issues"]] == ["SEC-6"]
    assert reconciled["issues"][0]["fields"] == {}  # no fields asked, none given
    unbounded = call(cloud, "POST", "/rest/api/3/search/jql", json={"jql": "ORDER BY created DESC"})
    assert unbounded.status_code == 400 and "Unbounded" in unbounded.json()["errorMessages"][0]
    missing = call(cloud, "POST", "/rest/api/3/search/jql", json={"jql": "key in (SEC-1, SEC-77)"})
    assert missing.json()["errorMessages"] == ["An issue with key 'SEC-77' does not exist for field 'key'."]
    cloud.reindex()
    assert len(call(cloud, "GET", "/rest/api/3/search/jql", params={"jql": "project = SEC"}).json()["issues"]) == 6


def test_fake_datacenter_search_pages_and_validation(dc):
    for n in range(3):
        dc.add_issue("SEC", f"Issue {n}")
    data = call(dc, "GET", "/rest/api/2/search", params={"jql": "project = SEC", "maxResults": 2}).json()
    assert (data["startAt"], data["maxResults"], data["total"], len(data["issues"])) == (0, 2, 3, 2)
    assert "summary" in data["issues"][0]["fields"]  # *navigable by default
    strict = call(dc, "GET", "/rest/api/2/search", params={"jql": "key in (SEC-1, SEC-9)"})
    assert strict.status_code == 400
    warn = call(dc, "GET", "/rest/api/2/search", params={"jql": "key in (SEC-1, SEC-9)", "validateQuery": "warn"})
    assert [i["key"] for i in warn.json()["issues"]] == ["SEC-1"] and warn.json()["warningMessages"]
    bad = call(dc, "GET", "/rest/api/2/search", params={"jql": "projekt = SEC"})
    assert bad.json()["errorMessages"] == ["Field 'projekt' does not exist or you do not have permission to view it."]


def test_fake_jql_dates_in_the_users_time_zone(server):
    created = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    server.add_issue("SEC", "Dated", created=created.timestamp())
    local = created.astimezone(ZoneInfo(server.user_timezone))  # 14:04 in Sydney (summer time)
    path = f"{api(server)}/search/jql" if server.cloud else f"{api(server)}/search"

    def count(when):
        answer = call(server, "GET", path, params={"jql": f'project = SEC AND created >= "{when}"'})
        return len(answer.json()["issues"])

    assert count(f"{local:%Y/%m/%d %H:%M}") == 1
    assert count(f"{local + timedelta(minutes=1):%Y-%m-%d %H:%M}") == 0
    assert count(f"{created:%Y/%m/%d %H:%M}") == 1  # the UTC wall time is hours earlier in Sydney
    assert count(f"{created + timedelta(hours=2):%Y/%m/%d %H:%M}") == 1  # ... so read as Sydney time, it matches


def test_fake_permissions_and_createmeta(server):
    answer = call(server, "GET", f"{api(server)}/mypermissions")
    assert answer.status_code == (400 if server.cloud else 200)
    server.permissions.discard("CREATE_ISSUES")
    perms = call(server, "GET", f"{api(server)}/mypermissions",
                 params={"projectKey": "SEC", "permissions": "CREATE_ISSUES,ADD_COMMENTS"}).json()["permissions"]
    assert (perms["CREATE_ISSUES"]["havePermission"], perms["ADD_COMMENTS"]["havePermission"]) == (False, True)
    server.permissions.add("CREATE_ISSUES")
    page = call(server, "GET", f"{api(server)}/issue/createmeta/SEC/issuetypes").json()
    kinds = page["issueTypes"] if server.cloud else page["values"]
    assert [k["name"] for k in kinds] == ["Epic", "Story", "Task", "Sub-task", "Bug"]
    fields = call(server, "GET", f"{api(server)}/issue/createmeta/SEC/issuetypes/10004").json()
    items = fields["fields"] if server.cloud else fields["values"]
    assert {f["fieldId"] for f in items} >= {"summary", "labels", "priority", "description"}
    assert call(server, "GET", f"{api(server)}/project/NOPE").json()["errorMessages"] == [
        "No project could be found with key 'NOPE'."]


def test_fake_rate_limit_headers(server):
    server.rate_limit = (1, 60.0)
    server.clock = lambda: 1_800_000_045.0
    assert call(server, "GET", f"{api(server)}/priority").status_code == 200
    limited = call(server, "GET", f"{api(server)}/priority")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "15"
    if server.cloud:
        assert limited.headers["RateLimit-Reason"] == "jira-burst-based"
        assert datetime.strptime(limited.headers["X-RateLimit-Reset"], "%Y-%m-%dT%H:%MZ")
    else:
        assert limited.headers["X-RateLimit-FillRate"] == "1"
        assert limited.headers["X-RateLimit-Interval-Seconds"] == "60"


def test_fake_issue_times_in_jiras_format(server):
    server.add_issue("SEC", "Dated", created=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    server.user_timezone = "UTC"
    fields = call(server, "GET", f"{api(server)}/issue/SEC-1").json()["fields"]
    assert fields["created"] == "2024-01-02T03:04:05.000+0000"
    assert fields["status"]["statusCategory"] == {"self": fields["status"]["statusCategory"]["self"], "id": 2,
                                                  "key": "new", "colorName": "blue-gray", "name": "To Do"}
    assert json.dumps(fields)  # JSON all the way down
