"""/metrics: who may read it, and what it says (computed from the database and Redis at scrape time)."""

from __future__ import annotations

import time
import uuid

import pytest
import redis as redis_lib
from prometheus_client.parser import text_string_to_metric_families

from certifai import metrics
from findings.models import Finding, Scan
from findings.services import record_scan
from issues.models import IssueEvent, TrackerIssue
from tests.factories import RepositoryFactory
from tests.issues.conftest import GITHUB_TOKEN, parsed
from trackers import services as tracker_services
from trackers.fakes.base import Fault
from trackers.models import TrackerConfig

pytestmark = pytest.mark.django_db


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def redis_settings(settings):
    """A Celery queue of this test only, so the latency hash and queue lists are this test's."""
    assert settings.REDIS_URL, "the test suite runs against Redis (make test sets REDIS_URL)"
    settings.CELERY_TASK_DEFAULT_QUEUE = f"certifai-metrics-{uuid.uuid4().hex[:8]}"
    client = redis_lib.Redis.from_url(settings.REDIS_URL)
    yield client
    for key in client.scan_iter(f"*{settings.CELERY_TASK_DEFAULT_QUEUE}*"):
        client.delete(key)


# --- who may read it ------------------------------------------------------------------------------------


@pytest.mark.parametrize("address, allowed", [
    ("127.0.0.1", True), ("10.1.2.3", True), ("172.20.0.5", True), ("192.168.1.9", True), ("::1", True),
    ("fd12:3456::1", True), ("::ffff:10.0.0.7", True),
    ("8.8.8.8", False), ("172.32.0.1", False), ("2001:4860::8888", False), ("100.64.0.1", False),
    ("169.254.169.254", False), ("not-an-address", False),
])
def test_without_a_token_only_loopback_and_private_addresses(client, settings, address, allowed):
    settings.CERTIFAI_METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == (200 if allowed else 403)


def test_with_a_token_only_the_bearer_of_it(client, settings):
    settings.CERTIFAI_METRICS_TOKEN = "s3cret-metrics-token"
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "Token s3cret-metrics-token"},
                    {"HTTP_AUTHORIZATION": "Bearer s3cret-metrics-token-and-more"}):
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)  # loopback is not enough then
        assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    response = client.get("/metrics", REMOTE_ADDR="8.8.8.8", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")


def test_behind_the_proxy_the_address_it_appended_counts(client, settings):
    settings.CERTIFAI_METRICS_TOKEN = ""
    settings.BEHIND_PROXY = True
    # The proxy runs on this host (REMOTE_ADDR 127.0.0.1) and appended the client's public address.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.1, 8.8.8.8").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="8.8.8.8, 10.0.0.1").status_code == 200
    settings.BEHIND_PROXY = False  # without a proxy the header is the client's word: ignored
    assert client.get("/metrics", REMOTE_ADDR="8.8.8.8", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 403


def test_scraped_by_address_whatever_the_allowed_hosts(client, settings):
    settings.ALLOWED_HOSTS = ["certifai.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/metrics", HTTP_HOST="web:8000").status_code == 200


# --- what it says -------------------------------------------------------------------------------------------


def test_counts_from_the_database(client):
    repo = RepositoryFactory()
    tracker_services.save_tracker(repo, {"type": "github", "repository": "acme/x", "token": GITHUB_TOKEN,
                                         "api_url": "https://api.github.com"})
    paused = RepositoryFactory()
    tracker_services.save_tracker(paused, {"type": "gitlab", "project_id": "acme/y", "token": "glpat-x0123456789abc"})
    TrackerConfig.objects.filter(repository=paused).update(sync_paused=True)
    Scan.objects.create(repository=repo, status=Scan.Status.COMPLETED)
    Scan.objects.create(repository=repo, status=Scan.Status.COMPLETED)
    Scan.objects.create(repository=repo, status=Scan.Status.FAILED)
    config = repo.tracker
    open_issue = TrackerIssue.objects.create(repository=repo, tracker_config=config, tracker="github",
                                             fingerprint="a" * 64, external_id="1", state="open", sync_state="synced")
    failed = TrackerIssue.objects.create(repository=repo, tracker_config=config, tracker="github",
                                         fingerprint="b" * 64, sync_state="failed", pending_action="create")
    for action, ok in (("create", True), ("close", True), ("reopen", True), ("close", True)):
        IssueEvent.objects.create(issue=open_issue, action=action, ok=ok)
    for _ in range(3):
        IssueEvent.objects.create(issue=failed, action="create", ok=False)

    response = client.get("/metrics")
    assert response.status_code == 200
    values = samples(response.content.decode())
    assert values[("certifai_scans", (("status", "completed"),))] == 2
    assert values[("certifai_scans", (("status", "failed"),))] == 1
    assert values[("certifai_scans", (("status", "pending"),))] == 0
    assert values[("certifai_tracker_issues", (("state", "open"), ("sync", "synced"), ("tracker", "github")))] == 1
    assert values[("certifai_tracker_issues", (("state", ""), ("sync", "failed"), ("tracker", "github")))] == 1
    actions = "certifai_tracker_issue_actions_total"
    assert values[(actions, (("action", "create"), ("outcome", "ok"), ("tracker", "github")))] == 1
    assert values[(actions, (("action", "create"), ("outcome", "failed"), ("tracker", "github")))] == 3
    assert values[(actions, (("action", "close"), ("outcome", "ok"), ("tracker", "github")))] == 2
    assert values[(actions, (("action", "reopen"), ("outcome", "ok"), ("tracker", "github")))] == 1
    assert values[("certifai_repositories", ())] == 2
    assert values[("certifai_repositories_sync_paused", ())] == 1
    assert values[("certifai_findings_open", (("severity", "high"),))] == 0


def test_open_findings_by_severity(client):
    repo = RepositoryFactory()
    record_scan(repository=repo, findings=[parsed("r1", line=1, severity="high"), parsed("r2", line=2),
                                           parsed("r3", line=3, severity="low")], tools=["CodeQL"])
    values = samples(client.get("/metrics").content.decode())
    assert values[("certifai_findings_open", (("severity", "high"),))] == 2
    assert values[("certifai_findings_open", (("severity", "low"),))] == 1
    assert Finding.objects.count() == 3


def test_queue_depth_and_unacked_from_redis(client, redis_settings, settings):
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    redis_settings.lpush(queue, "m1", "m2", "m3")
    redis_settings.lpush(f"{queue}\x06\x163", "m4")  # a message of priority 3: kombu's list for it
    values = samples(client.get("/metrics").content.decode())
    assert values[("certifai_celery_queue_length", (("queue", queue),))] == 4
    assert values[("certifai_broker_up", ())] == 1
    assert ("certifai_celery_unacked_messages", ()) in values


def test_no_broker_metrics_with_the_embedded_broker(client, settings):
    settings.REDIS_URL = ""
    text = client.get("/metrics").content.decode()
    assert "certifai_celery_queue_length" not in text and "certifai_tracker_call_duration_seconds" not in text
    assert "certifai_scans" in text
    metrics.record_tracker_call("github", "create", "ok", 0.2)  # nothing to record it in: no error either


def test_redis_down_is_reported_fast(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    started = time.monotonic()
    response = client.get("/metrics")
    assert response.status_code == 200 and time.monotonic() - started < 2
    assert samples(response.content.decode())[("certifai_broker_up", ())] == 0
    metrics.record_tracker_call("github", "create", "ok", 0.2)  # never raises


def test_latency_histogram_is_shared_through_redis(client, redis_settings):
    for seconds in (0.01, 0.05, 0.3, 0.3, 45.0):
        metrics.record_tracker_call("gitlab", "create", "ok", seconds)
    metrics.record_tracker_call("gitlab", "close", "error", 15.0)
    values = samples(client.get("/metrics").content.decode())
    name = "certifai_tracker_call_duration_seconds"
    labels = (("operation", "create"), ("outcome", "ok"), ("tracker", "gitlab"))

    def bucket(le: str) -> float:
        return values[(f"{name}_bucket", tuple(sorted((*labels, ("le", le)))))]

    assert bucket("0.05") == 2 and bucket("0.25") == 2 and bucket("0.5") == 4 and bucket("30.0") == 4
    assert bucket("+Inf") == 5 and values[(f"{name}_count", labels)] == 5
    assert values[(f"{name}_sum", labels)] == pytest.approx(45.66)
    error_labels = (("operation", "close"), ("outcome", "error"), ("tracker", "gitlab"))
    assert values[(f"{name}_count", error_labels)] == 1


def test_the_pipeline_times_its_tracker_calls(client, github, github_repo, redis_settings):
    from issues import services

    github.add_fault(Fault("status", status=503), method="POST", path=r"/issues$", times=1)
    scan = record_scan(repository=github_repo, findings=[parsed("r1", line=1), parsed("r2", line=2)],
                       tools=["CodeQL"])
    services.plan_scan(scan)
    services.sync_repository(github_repo.pk)  # the first create fails (503) and waits for its retry
    TrackerIssue.objects.update(next_attempt_at=None)
    services.sync_repository(github_repo.pk)
    assert TrackerIssue.objects.filter(sync_state="synced").count() == 2
    values = samples(client.get("/metrics").content.decode())
    name = "certifai_tracker_call_duration_seconds_count"
    assert values[(name, (("operation", "create"), ("outcome", "ok"), ("tracker", "github")))] == 2
    assert values[(name, (("operation", "create"), ("outcome", "error"), ("tracker", "github")))] == 1
