import pytest

from findings.services import record_scan
from issues import services

from .conftest import parsed

pytestmark = pytest.mark.django_db


def test_issues_and_linked_issue_in_the_api(api_client, github, github_repo):
    scan = record_scan(repository=github_repo, findings=[parsed(), parsed("py/xss", line=3, severity="info")],
                       tools=["CodeQL"])
    services.plan_scan(scan)
    services.sync_repository(github_repo.pk)
    issues = api_client.get("/api/v1/issues/", {"repository": github_repo.pk, "tracker": "github",
                                                "status": "open"}).json()["results"]
    assert len(issues) == 1
    issue = issues[0]
    assert {k: issue[k] for k in ("tracker", "external_id", "state", "sync", "error")} == {
        "tracker": "github", "external_id": "1", "state": "open", "sync": "synced", "error": ""}
    assert issue["url"].endswith("/acme/app/issues/1") and len(issue["fingerprint"]) == 64

    findings = api_client.get("/api/v1/findings/", {"repository": github_repo.pk}).json()["results"]
    linked = {f["rule_id"]: f["linked_issue"] for f in findings}
    assert linked["py/xss"] is None  # below the threshold
    assert linked["py/sql-injection"]["external_id"] == "1" and linked["py/sql-injection"]["url"] == issue["url"]
    assert api_client.get("/api/v1/issues/", {"status": "closed"}).json()["results"] == []


def test_retry_requeues_a_failed_issue(api_client, github, github_repo):
    from trackers.fakes.base import Fault

    github.add_fault(Fault("status", status=422, body={"message": "Validation Failed"}), method="POST",
                     path=r"/issues$")
    services.plan_scan(record_scan(repository=github_repo, findings=[parsed()], tools=["CodeQL"]))
    services.sync_repository(github_repo.pk)
    failed = api_client.get("/api/v1/issues/", {"sync": "failed"}).json()["results"]
    assert len(failed) == 1 and failed[0]["error"]
    retried = api_client.post(f"/api/v1/issues/{failed[0]['id']}/retry/").json()
    assert retried["sync"] == "synced" and retried["external_id"] == "1"  # eager Celery ran the sync
