"""A slow tracker does not hold up the others: real Celery workers, several repositories on two trackers."""

from __future__ import annotations

import re
import time

import pytest

from findings.services import record_scan
from issues.models import TrackerIssue
from tests.factories import RepositoryFactory
from tests.issues.conftest import parsed
from trackers import services as tracker_services
from trackers.fakes.github import FakeGitHub
from trackers.fakes.gitlab import FakeGitLab

from .conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

GITHUB_TOKEN = "ghp_IsolationToken0123456789abcdefXYZW"
GITLAB_TOKEN = "glpat-isolation-token"
SLOW_REPOSITORIES = ("acme/one", "acme/two", "acme/three")


@pytest.fixture
def slow_github():
    fake = FakeGitHub(tokens={GITHUB_TOKEN: {"login": "certifai-bot",
                                             "repos": {name: "write" for name in SLOW_REPOSITORIES}}}).start()
    fake.latency = 0.7  # every answer takes 0.7 s
    yield fake
    fake.stop()


@pytest.fixture
def gitlab():
    fake = FakeGitLab().start()
    fake.add_user("bot", token=GITLAB_TOKEN)
    fake.add_project("acme/fast", project_id=42, members={"bot": 30})
    yield fake
    fake.stop()


def findings(n: int):
    return [parsed(f"rule-{i}", f"src/file{i}.py", i + 1, "high") for i in range(n)]


def synced(repository) -> int:
    return TrackerIssue.objects.filter(repository=repository, sync_state="synced").count()


def test_slow_tracker_holds_one_worker_and_the_others_go_on(workers, slow_github, gitlab):
    workers.extra_env["CERTIFAI_TRACKER_CONCURRENCY"] = "1"
    workers.start(concurrency=3)
    slow = []
    for name in SLOW_REPOSITORIES:
        repository = RepositoryFactory(name=name)
        tracker_services.save_tracker(repository, {"type": "github", "repository": name, "token": GITHUB_TOKEN,
                                                   "api_url": slow_github.url})
        slow.append(repository)
    fast = RepositoryFactory(name="acme/fast")
    tracker_services.save_tracker(fast, {"type": "gitlab", "project_id": "42", "token": GITLAB_TOKEN,
                                         "instance_url": gitlab.url})

    # The slow tracker's three scans are queued first, with three worker processes to take them.
    for repository in slow:
        record_scan(repository=repository, findings=findings(4), tools=["CodeQL"])
    started = time.monotonic()
    record_scan(repository=fast, findings=findings(6), tools=["CodeQL"])

    def state():
        return {r.name: synced(r) for r in [*slow, fast]}

    wait_until(lambda: synced(fast) == 6, timeout=60, message="the fast tracker's issues", describe=state)
    fast_done = time.monotonic() - started
    # GitHub answers one request at a time at 0.7 s: 12 issues need more than 8 s, one repository after another.
    # GitLab's 6 went through meanwhile, on the worker processes the slow tracker could not take.
    assert sum(synced(r) for r in slow) < 12, (fast_done, state())
    wait_until(lambda: all(synced(r) == 4 for r in slow), timeout=120, message="the slow tracker's issues",
               describe=state)
    assert slow_github.max_in_flight == 1  # CERTIFAI_TRACKER_CONCURRENCY, across all worker processes

    # And each finding was filed exactly once on each tracker.
    for name in SLOW_REPOSITORIES:
        bodies = [slow_github.issue(name, n)["body"] for n in range(1, slow_github.issue_count(name) + 1)]
        marks = [m for body in bodies for m in re.findall(r"certifai:fingerprint=([0-9a-f]{64})", body)]
        assert len(marks) == len(set(marks)) == 4
    assert len(gitlab.issues) == 6
