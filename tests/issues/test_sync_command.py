import pytest
import requests
from django.core.management import CommandError, call_command

from findings.services import record_scan
from issues import services
from issues.models import TrackerIssue
from trackers.fakes.base import Fault

from .conftest import GITHUB_TOKEN, parsed

pytestmark = pytest.mark.django_db


def test_sync_issues_retries_failed_work_and_refreshes_status(github, github_repo, capsys):
    github.add_fault(Fault("status", status=422, body={"message": "Validation Failed"}), method="POST",
                     path=r"/issues$")
    services.plan_scan(record_scan(repository=github_repo, findings=[parsed(), parsed("py/xss", line=2)],
                                   tools=["CodeQL"]))
    services.sync_repository(github_repo.pk)
    assert TrackerIssue.objects.filter(sync_state="failed").count() == 1  # one 422, the other went through
    synced = TrackerIssue.objects.get(sync_state="synced")
    requests.patch(f"{github.url}/repos/acme/app/issues/{synced.external_id}", json={"state": "closed"},
                   headers={"Authorization": f"Bearer {GITHUB_TOKEN}"}, timeout=5).raise_for_status()

    call_command("sync_issues", "--repository", "acme/app")
    out = capsys.readouterr().out
    assert "acme/app: retried 1, done 1, failed 0, refreshed 1" in out
    assert not TrackerIssue.objects.exclude(sync_state="synced").exists()
    synced.refresh_from_db()
    assert synced.state == "closed"
    assert github.issue_count("acme/app") == 2


def test_sync_issues_reports_a_paused_repository(github, github_repo, capsys):
    from trackers.models import TrackerConfig

    TrackerConfig.objects.filter(repository=github_repo).update(sync_paused=True, sync_error="Sync paused: bad token")
    call_command("sync_issues")
    assert "acme/app: paused: Sync paused: bad token" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no repository named 'nope'"):
        call_command("sync_issues", "--repository", "nope")
