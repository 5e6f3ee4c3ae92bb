"""Exactly once, proven with real Celery workers, Redis and PostgreSQL against the fake GitHub's faults."""

from __future__ import annotations

import re

import pytest

from findings.models import Finding, Scan
from findings.services import record_scan
from issues.models import TrackerIssue
from tests.factories import RepositoryFactory
from tests.issues.conftest import parsed
from trackers import services as tracker_services
from trackers.fakes.base import Fault
from trackers.fakes.github import FakeGitHub

from .conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "ghp_WorkerCanaryToken0123456789abcdefXYZ"


@pytest.fixture
def github():
    fake = FakeGitHub(tokens={TOKEN: {"login": "certifai-bot", "repos": {"acme/app": "write"}}}).start()
    yield fake
    fake.stop()


@pytest.fixture
def repo(github):
    repository = RepositoryFactory(name="acme/app")
    tracker_services.save_tracker(repository, {"type": "github", "repository": "acme/app", "token": TOKEN,
                                               "api_url": github.url})
    return repository


def findings(n: int, offset: int = 0):
    return [parsed(f"rule-{i}", f"src/file{i}.py", i + 1, "high") for i in range(offset, offset + n)]


def marker_counts(github: FakeGitHub) -> dict[str, int]:
    counts: dict[str, int] = {}
    for number in range(1, github.issue_count("acme/app") + 1):
        body = github.issue("acme/app", number)["body"] or ""
        for fingerprint in re.findall(r"certifai:fingerprint=([0-9a-f]{64})", body):
            counts[fingerprint] = counts.get(fingerprint, 0) + 1
    return counts


def rows_state(repository) -> list:
    return list(TrackerIssue.objects.filter(repository=repository).exclude(sync_state="synced").values_list(
        "sync_state", "pending_action", "attempts", "next_attempt_at", "lease_until", "last_error")[:10]) + [
        TrackerIssue.objects.filter(repository=repository).count()] + [
        (scan.pk, scan.status, scan.counts) for scan in Scan.objects.filter(repository=repository)]


def all_synced(repository, expected: int) -> bool:
    rows = TrackerIssue.objects.filter(repository=repository)
    return rows.count() == expected and not rows.exclude(sync_state="synced").exists()


def test_worker_killed_mid_sync_loses_and_duplicates_nothing(workers, github, repo, tmp_path):
    github.add_fault(Fault("delay", seconds=0.25), method="POST", path=r"/issues$", times=1000)
    workers.start_beat(tmp_path)
    first = workers.start(concurrency=1, name="doomed")
    record_scan(repository=repo, findings=findings(30), tools=["CodeQL"])
    wait_until(lambda: github.issue_count("acme/app") >= 5, 60, message="the first issues")
    workers.kill(first)  # in the middle of a create, most likely
    workers.start(concurrency=2, name="rescuer")
    wait_until(lambda: all_synced(repo, 30), 60, message="every finding's issue", describe=lambda: rows_state(repo))
    counts = marker_counts(github)
    assert len(counts) == 30 and set(counts.values()) == {1}
    assert github.issue_count("acme/app") == 30


def test_two_scans_of_one_repository_at_once_on_several_workers(workers, github, repo):
    github.add_fault(Fault("delay", seconds=0.05), method="POST", path=r"/issues$", times=1000)
    workers.start(concurrency=2, name="w1")
    workers.start(concurrency=2, name="w2")
    record_scan(repository=repo, findings=findings(25), tools=["CodeQL"])
    record_scan(repository=repo, findings=findings(25, offset=10), tools=["CodeQL"])  # 15 shared, 10 new
    # Whether the 10 findings the second scan resolved got an issue first depends on which plan ran first;
    # every finding open at the end must have exactly one issue, and no fingerprint two.
    open_fingerprints = set(Finding.objects.filter(repository=repo, status="open").values_list("fingerprint",
                                                                                              flat=True))
    assert len(open_fingerprints) == 25

    def settled() -> bool:
        rows = TrackerIssue.objects.filter(repository=repo)
        synced = set(rows.filter(sync_state="synced").values_list("fingerprint", flat=True))
        return open_fingerprints <= synced and not rows.exclude(sync_state="synced").exists()

    wait_until(settled, 120, message="an issue for every open finding", describe=lambda: rows_state(repo))
    counts = marker_counts(github)
    assert open_fingerprints <= set(counts) and set(counts.values()) == {1}
    assert github.issue_count("acme/app") == TrackerIssue.objects.filter(repository=repo).count()


def test_dropped_connections_and_5xx_are_retried_without_duplicates(workers, github, repo):
    github.add_fault(Fault("drop_after"), method="POST", path=r"/issues$", times=3)
    github.add_fault(Fault("status", status=503), method="POST", path=r"/issues$", times=3)
    workers.start(concurrency=2)
    record_scan(repository=repo, findings=findings(12), tools=["CodeQL"])
    wait_until(lambda: all_synced(repo, 12), 120, message="12 issues despite the faults",
               describe=lambda: rows_state(repo))
    counts = marker_counts(github)
    assert len(counts) == 12 and set(counts.values()) == {1}
