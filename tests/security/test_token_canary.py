"""A canary token is saved for trackers, then everything that can show, log or store text is exercised: every API
endpoint, the web pages, the connection test against a tracker that rejects the token and one that accepts it,
and the pipeline against trackers failing every way (401, 403, 429, 500, 502, a connection dropped before and
after the request was handled). The canary must appear in no response body, no log record (everything at DEBUG,
urllib3, requests, github, gitlab, jira included, seen *before* the redacting filter rewrites a record), and
no error message stored in the database.

The canary has no token shape the redacting filter knows, so only its exact value would be found: a leak here
is the application's (or a library's) own, not something the filter happened to catch.
"""

from __future__ import annotations

import base64
import logging
import traceback
from urllib.parse import quote

import pytest
from django.urls import reverse

from findings.models import Finding, Scan
from findings.services import record_scan
from issues import services as issue_services
from issues.models import IssueEvent, TrackerIssue
from tests.issues.conftest import parsed
from trackers import services as tracker_services
from trackers.fakes.base import Fault
from trackers.fakes.gitea import FakeGitea
from trackers.fakes.github import FakeGitHub
from trackers.fakes.gitlab import FakeGitLab
from trackers.fakes.jira import FakeJira
from trackers.models import TrackerConfig

pytestmark = pytest.mark.django_db

CANARY = "CaNaRy7q3Xw9Zt2Lk5Vb8Nm4"  # noqa: S105 - the point of the test
EMAIL = "bot@example.com"
LOGGERS = ("", "urllib3", "requests", "github", "gitlab", "jira", "trackers", "issues", "findings", "django",
           "celery")
FAULTS = [Fault("status", status=500), Fault("status", status=502), Fault("drop_before"), Fault("drop_after"),
          Fault("rate_limit", retry_after=1), Fault("status", status=403)]  # 403 last: it pauses the sync


def secrets_of(token: str) -> list[str]:
    """The forms a token travels in: as is, URL-encoded, and in Jira Cloud's Basic credentials."""
    return [token, quote(token, safe=""), base64.b64encode(f"{EMAIL}:{token}".encode()).decode()]


class RawRecords(logging.Handler):
    """Every record as it was logged: put first on the root logger, before the redacting console handler."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception as exc:  # noqa: BLE001 - a broken record still counts as text
            text = f"{record.msg!r} {record.args!r} {exc}"
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        self.texts.append(f"{record.name}: {text} {record.exc_text or ''} {record.stack_info or ''}")
        self.names.add(record.name)


@pytest.fixture
def raw_logs(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    handler = RawRecords()
    root = logging.getLogger()
    root.handlers.insert(0, handler)
    yield handler
    root.removeHandler(handler)


def assert_clean(where: str, *texts) -> None:
    for text in texts:
        text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        for secret in secrets_of(CANARY):
            assert secret not in text, f"the canary token appears in {where}"


def assert_database_clean() -> None:
    stored = [
        *TrackerIssue.objects.values_list("last_error", flat=True),
        *TrackerConfig.objects.values_list("sync_error", flat=True),
        *IssueEvent.objects.values_list("message", flat=True),
        *Scan.objects.values_list("error", flat=True),
    ]
    assert_clean("an error stored in the database", *stored)
    for config in TrackerConfig.objects.all():
        assert_clean("a stored ciphertext", config.token_encrypted, config.webhook_secret_encrypted)


# --- trackers that accept the canary, and trackers that reject it ----------------------------------------------


def make_fake(kind: str, accepts: bool):
    token = CANARY if accepts else "another-token-entirely-0000"
    if kind == "github":
        return FakeGitHub(tokens={token: {"login": "bot", "repos": {"acme/app": "write"}}}).start(), {
            "type": "github", "repository": "acme/app"}, "api_url"
    if kind == "gitlab":
        fake = FakeGitLab()
        fake.add_user("bot", token=token)
        fake.add_project("acme/app", project_id=1, members={"bot": 30})
        return fake.start(), {"type": "gitlab", "project_id": "acme/app"}, "instance_url"
    if kind == "gitea":
        fake = FakeGitea()
        fake.add_token("bot", token, scopes=("write:issue", "read:repository", "read:user"))
        fake.add_repo("acme/app", members={"bot": "write"})
        return fake.start(), {"type": "gitea", "repository": "acme/app"}, "instance_url"
    deployment = "cloud" if kind == "jira-cloud" else "datacenter"
    fake = FakeJira(deployment=deployment, email=EMAIL, token=token, project_key="SEC").start()
    return fake, {"type": "jira", "project_key": "SEC", "email": EMAIL if deployment == "cloud" else ""}, \
        "instance_url"


@pytest.fixture
def fakes(request):
    started = []

    def start(kind: str, accepts: bool):
        fake, fields, url_field = make_fake(kind, accepts)
        started.append(fake)
        return fake, {**fields, url_field: fake.url, "token": CANARY, "min_severity": "low"}

    yield start
    for fake in started:
        fake.stop()


FINDINGS = [parsed("py/sql-injection", "app/db.py", 10, "high"), parsed("py/xss", "app/views.py", 22, "medium"),
            parsed("py/weak-hash", "app/auth.py", 5, "low")]


def run_pipeline(repository_id: int, rounds: int) -> None:
    """Sync until the faults are used up: each round makes every row due again (no waiting for backoff)."""
    for _ in range(rounds):
        issue_services.retry_failed(repository_id, force=True)
        TrackerIssue.objects.filter(repository_id=repository_id).update(next_attempt_at=None, lease_until=None)
        issue_services.sync_repository(repository_id, budget_seconds=30)


# --- the tests ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["github", "gitlab", "gitea", "jira", "jira-cloud"])
def test_canary_never_leaks_from_the_pipeline_and_connection_tests(api_client, raw_logs, caplog, settings, fakes,
                                                                   kind):
    settings.CERTIFAI_RATE_SCALE = 1000.0
    settings.CERTIFAI_RETRY_BASE_SECONDS = 0.0
    good, good_tracker = fakes(kind, accepts=True)
    _, bad_tracker = fakes(kind, accepts=False)
    bodies = []

    created = []
    for name, tracker in (("acme/good", good_tracker), ("acme/bad", bad_tracker)):
        response = api_client.post("/api/v1/repositories/", {"name": name, "tracker": tracker}, format="json")
        assert response.status_code == 201, response.content
        bodies.append(response.content)
        created.append(response.json()["id"])
    good_id, bad_id = created

    accepted = api_client.post(f"/api/v1/repositories/{good_id}/tracker/test/")
    rejected = api_client.post(f"/api/v1/repositories/{bad_id}/tracker/test/")
    assert accepted.json()["ok"] is True, accepted.json()
    assert rejected.json()["ok"] is False
    bodies += [accepted.content, rejected.content]

    # The tracker that accepts the token fails every way first, then works.
    for fault in FAULTS:
        good.add_fault(fault, method="POST")
    for repository_id in (good_id, bad_id):
        issue_services.plan_scan(record_scan(repository=TrackerConfig.objects.get(
            repository_id=repository_id).repository, findings=list(FINDINGS), tools=["CodeQL"]))
    run_pipeline(good_id, rounds=len(FAULTS) + 2)  # a sync stops at its first transient failure: a fault a round
    run_pipeline(bad_id, rounds=2)
    tracker_services.save_tracker(TrackerConfig.objects.get(repository_id=good_id).repository,
                                  {**good_tracker, "token": ""})  # un-pause after the 403, keeping the token
    run_pipeline(good_id, rounds=3)
    issue_services.refresh_repository(good_id)

    # Every failure was served (to a create, or to the lookup that follows an unknown outcome) and recorded.
    assert not good._faults, "the failures were exercised"
    assert IssueEvent.objects.filter(ok=False).count() >= 3
    assert TrackerConfig.objects.get(repository_id=bad_id).sync_paused
    assert TrackerConfig.objects.get(repository_id=bad_id).sync_error
    assert TrackerIssue.objects.filter(repository_id=good_id, sync_state="synced").count() == len(FINDINGS)

    for url in ["/api/v1/repositories/", f"/api/v1/repositories/{good_id}/", f"/api/v1/repositories/{bad_id}/",
                "/api/v1/issues/", f"/api/v1/issues/?repository={bad_id}", "/api/v1/findings/", "/api/v1/scans/"]:
        response = api_client.get(url)
        assert response.status_code == 200
        bodies.append(response.content)
    assert_clean("an API response", *bodies)
    assert_database_clean()
    assert_clean("a log record", *raw_logs.texts, caplog.text)
    assert "urllib3.connectionpool" in raw_logs.names  # the libraries' debug logs were on


def test_canary_never_leaks_from_api_or_pages(api_client, client, raw_logs, caplog, settings, fakes, data_dir):
    settings.CERTIFAI_RATE_SCALE = 1000.0
    settings.CERTIFAI_RETRY_BASE_SECONDS = 0.0
    good, good_tracker = fakes("github", accepts=True)
    _, bad_tracker = fakes("github", accepts=False)
    ids = [api_client.post("/api/v1/repositories/", {"name": name, "tracker": tracker}, format="json").json()["id"]
           for name, tracker in (("acme/good", good_tracker), ("acme/bad", bad_tracker))]
    for repository_id in ids:
        config = TrackerConfig.objects.get(repository_id=repository_id)
        issue_services.plan_scan(record_scan(repository=config.repository, findings=list(FINDINGS),
                                             tools=["CodeQL"]))
    good.add_fault(Fault("status", status=502), method="POST", times=2)
    run_pipeline(ids[0], rounds=1)  # two rows fail (and show their errors), one is filed
    run_pipeline(ids[1], rounds=1)  # rejected: paused, with its message
    with open(data_dir / "sarif-invalid" / "missing-runs__from-dockle-0.3.15.sarif", "rb") as handle:
        upload = api_client.post(f"/api/v1/repositories/{ids[0]}/scans/", {"file": handle}, format="multipart")
    assert upload.status_code == 400  # a failed scan, with its error stored

    bodies = [upload.content]
    finding = Finding.objects.filter(repository_id=ids[0]).first()
    issue = TrackerIssue.objects.filter(repository_id=ids[0]).first()
    scan = Scan.objects.filter(repository_id=ids[0]).first()
    api_get = ["/api/v1/repositories/", *(f"/api/v1/repositories/{i}/" for i in ids), "/api/v1/scans/",
               f"/api/v1/scans/{scan.pk}/", "/api/v1/findings/", f"/api/v1/findings/{finding.pk}/", "/api/v1/issues/",
               "/api/v1/schema/", "/api/v1/docs/"]
    for url in api_get:
        response = api_client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.content)
    for url in [*(f"/api/v1/repositories/{i}/tracker/test/" for i in ids), f"/api/v1/issues/{issue.pk}/retry/"]:
        response = api_client.post(url)
        assert response.status_code < 500, url
        bodies.append(response.content)
    patched = api_client.patch(f"/api/v1/repositories/{ids[0]}/", {"tracker": {"min_severity": "high"}},
                               format="json")
    assert patched.status_code == 200
    bodies.append(patched.content)

    client.force_login(api_client.user)
    pages = [reverse("dashboard"), reverse("repository-list"), reverse("repository-add"), reverse("scan-list"),
             reverse("finding-list"), reverse("issue-list"), reverse("finding-detail", args=[finding.pk])]
    for i in ids:
        pages += [reverse("repository-detail", args=[i]), reverse("repository-edit", args=[i])]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.content)
    for i in ids:
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.post(reverse("repository-tracker-test", args=[i]), follow=True, **headers)
            assert response.status_code == 200
            bodies.append(response.content)
    response = client.post(reverse("issue-retry", args=[issue.pk]), follow=True)
    bodies.append(response.content)
    assert b"Connection test" in b"".join(bodies)

    assert_clean("a response body", *bodies)
    assert_database_clean()
    assert_clean("a log record", *raw_logs.texts, caplog.text)
