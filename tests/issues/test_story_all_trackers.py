"""The whole story with each tracker's fake, through the real client libraries over HTTP:
import a scan, N issues; the same scan again, none; a scan without X, X's issue closed; X back, the
same issue reopened; moved code keeps its issue; X closed as won't fix stays closed under unless_accepted."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from findings.models import Finding
from findings.services import import_scan
from issues import services
from issues.models import TrackerIssue
from tests.factories import RepositoryFactory
from trackers import services as tracker_services
from trackers.fakes.base import FakeServer

pytestmark = pytest.mark.django_db

SCAN1 = "bandit/vulpy__scan1-baseline.bandit.json"
SCAN2 = "bandit/vulpy__scan2-after-edit.bandit.json"


@dataclass
class Tracker:
    fake: FakeServer
    config: dict
    create_path: str  # regex of the create-issue endpoint, to count creations on the wire


def _github():
    from trackers.fakes.github import FakeGitHub

    fake = FakeGitHub(tokens={"ghp_story": {"login": "bot", "repos": {"acme/vulpy": "write"}}}).start()
    return Tracker(fake, {"type": "github", "repository": "acme/vulpy", "token": "ghp_story", "api_url": fake.url},
                   r"^(/api/v3)?/repos/[^/]+/[^/]+/issues$")


def _gitlab():
    from trackers.fakes.gitlab import FakeGitLab

    fake = FakeGitLab().start()
    fake.add_user("bot", token="glpat-story")
    fake.add_project("acme/vulpy", project_id=42, members={"bot": 30})
    return Tracker(fake, {"type": "gitlab", "project_id": "acme/vulpy", "token": "glpat-story",
                          "instance_url": fake.url}, r"^/api/v4/projects/[^/]+/issues$")


def _gitea():
    from trackers.fakes.gitea import FakeGitea

    fake = FakeGitea()
    fake.add_token("bot", "gitea-story", scopes=("write:issue", "read:repository", "read:user"))
    fake.add_repo("acme/vulpy", members={"bot": "write"})
    fake.start()
    return Tracker(fake, {"type": "gitea", "repository": "acme/vulpy", "token": "gitea-story",
                          "instance_url": fake.url}, r"^/api/v1/repos/[^/]+/[^/]+/issues$")


def _jira(deployment):
    from trackers.fakes.jira import FakeJira, Status, Transition, Workflow

    # A classic workflow: closing asks for a resolution (so "Won't Do" can be recorded), reopening has its
    # own transition. Jira Software's simplified workflow can't record a resolution (see the adapter's docs).
    classic = Workflow(
        statuses=[Status("Open", "new", "1"), Status("In Progress", "indeterminate", "3"),
                  Status("Closed", "done", "6")],
        transitions=[
            Transition("4", "Start Progress", "In Progress", sources=("Open",)),
            Transition("2", "Close Issue", "Closed", sources=("Open", "In Progress"), resolution="required"),
            Transition("3", "Reopen Issue", "Open", sources=("Closed",)),
        ],
        initial="Open",
    )
    fake = FakeJira(deployment=deployment, email="bot@example.com", token="jira-story", workflow=classic).start()
    return Tracker(fake, {"type": "jira", "project_key": "SEC", "token": "jira-story", "instance_url": fake.url,
                          "email": "bot@example.com" if deployment == "cloud" else ""}, r"^/rest/api/[23]/issue$")


MAKERS = {"github": _github, "gitlab": _gitlab, "gitea": _gitea, "jira-cloud": lambda: _jira("cloud"),
          "jira-datacenter": lambda: _jira("datacenter")}


@pytest.fixture(params=list(MAKERS))
def tracker(request, settings):
    settings.CERTIFAI_RATE_SCALE = 1000.0
    made = MAKERS[request.param]()
    yield made
    made.fake.stop()


def run(repo, data_dir, name):
    scan = import_scan(repository=repo, path=data_dir / name)
    services.plan_scan(scan)
    result = services.sync_repository(repo.pk)
    assert result.failed == 0, result.errors
    return scan


def issue_of(repo, **where) -> TrackerIssue:
    finding = Finding.objects.get(repository=repo, **where)
    return TrackerIssue.objects.get(finding=finding)


def test_whole_story(tracker, data_dir):
    repo = RepositoryFactory(name="acme/vulpy")
    tracker_services.save_tracker(repo, {**tracker.config, "min_severity": "medium"})
    creates = lambda: len(tracker.fake.requests_to("POST", tracker.create_path))  # noqa: E731
    adapter = services.get_adapter(tracker_services.tracker_settings(repo.tracker))

    first = run(repo, data_dir, SCAN1)
    actionable = Finding.objects.filter(repository=repo, severity__in=["high", "medium"]).count()
    assert actionable == 38  # 4 high + 36 medium results, two of which share path, line and rule
    assert creates() == actionable
    assert TrackerIssue.objects.filter(repository=repo, sync_state="synced", state="open").count() == actionable
    first.refresh_from_db()
    assert first.counts["issues_created"] == actionable

    run(repo, data_dir, SCAN1)  # the same scan again
    assert creates() == actionable

    x = issue_of(repo, rule_id="B608", file_path="bad/libuser.py", start_line=53)
    moved = issue_of(repo, rule_id="B201", file_path="bad/vulpy.py", start_line=55)
    second = run(repo, data_dir, SCAN2)  # X fixed, B201 moved 55 -> 60, B324 new
    assert creates() == actionable + 1
    x.refresh_from_db()
    assert x.state == "closed" and adapter.get_issue(x.external_id).state == "closed"
    moved.refresh_from_db()
    assert moved.finding.start_line == 60 and moved.state == "open"
    assert adapter.get_issue(moved.external_id).state == "open"
    second.refresh_from_db()
    assert (second.counts["issues_closed"], second.counts["issues_moved"], second.counts["issues_created"]) == (1, 1, 1)

    run(repo, data_dir, SCAN1)  # X back: the same issue reopened; B201 moved back to 55 keeps its issue
    x.refresh_from_db()
    assert x.state == "open" and adapter.get_issue(x.external_id).state == "open"
    assert creates() == actionable + 1
    moved.refresh_from_db()
    assert moved.finding.start_line == 55 and moved.state == "open"
    # Every open finding at or above the threshold is linked to an open issue.
    unlinked = Finding.objects.filter(repository=repo, status="open", severity__in=["high", "medium"],
                                      tracker_issue__isnull=True)
    assert not unlinked.exists()
    assert not TrackerIssue.objects.filter(repository=repo, finding__status="open", state="closed").exists()
    assert TrackerIssue.objects.filter(repository=repo).count() == actionable + 1

    # A person closes X as won't fix; it goes away and comes back: under unless_accepted it stays closed.
    adapter.close_issue(x.external_id, "Accepted: internal tool.", accepted_risk=True)
    services.refresh_repository(repo.pk)
    x.refresh_from_db()
    assert x.state == "closed"
    if not x.accepted_risk:
        pytest.fail(f"{tracker.config['type']}: closing as won't fix was not read back as accepted risk")
    run(repo, data_dir, SCAN2)
    run(repo, data_dir, SCAN1)
    x.refresh_from_db()
    assert x.state == "closed" and adapter.get_issue(x.external_id).state == "closed"
    assert creates() == actionable + 1
