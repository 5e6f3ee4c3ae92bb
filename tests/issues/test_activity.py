"""The audit trail on the repository page: who changed tracker settings, what Certifai did to issues and why."""

import pytest

from findings.services import record_scan
from issues import services
from tests.factories import member
from trackers.models import TrackerChange

from .conftest import GITHUB_TOKEN, parsed

pytestmark = pytest.mark.django_db


def test_settings_changes_record_who_and_what_never_the_token(api_client, github):
    created = api_client.post("/api/v1/repositories/", {"name": "acme/app", "tracker": {
        "type": "github", "repository": "acme/app", "token": GITHUB_TOKEN, "api_url": github.url}}, format="json")
    pk = created.json()["id"]
    api_client.patch(f"/api/v1/repositories/{pk}/", {"tracker": {"min_severity": "high", "token": "ghp_new"}},
                     format="json")
    api_client.patch(f"/api/v1/repositories/{pk}/", {"tracker": {"min_severity": "high"}}, format="json")  # no-op
    api_client.patch(f"/api/v1/repositories/{pk}/", {"tracker": None}, format="json")
    changes = list(TrackerChange.objects.filter(repository_id=pk).order_by("id"))
    assert [c.action for c in changes] == ["created", "updated", "deleted"]
    assert all(c.actor == api_client.user for c in changes)
    assert changes[1].changes == {"min_severity": ["low", "high"], "token": ["(saved)", "(changed)"]}
    assert GITHUB_TOKEN not in str([c.changes for c in changes]) and "ghp_new" not in str(changes[1].changes)


def test_repository_page_shows_the_activity(client, django_user_model, github, github_repo):
    scan = record_scan(repository=github_repo, findings=[parsed()], tools=["CodeQL"])
    services.plan_scan(scan)
    services.sync_repository(github_repo.pk)
    services.plan_scan(record_scan(repository=github_repo, findings=[], tools=["CodeQL"]))
    services.sync_repository(github_repo.pk)
    client.force_login(member(django_user_model.objects.create_user("dana")))
    page = client.get(f"/repositories/{github_repo.pk}/").content.decode()
    assert f"/repositories/{github_repo.pk}/activity/" in page
    fragment = client.get(f"/repositories/{github_repo.pk}/activity/", HTTP_HX_REQUEST="true").content.decode()
    assert "Create: 1" in fragment and "Close: 1" in fragment and f"scan {scan.pk}" in fragment
    assert "Tracker configured" in fragment  # the fixture's save_tracker, without a person: "API or system"
    assert "<html" not in fragment
    assert "<html" in client.get(f"/repositories/{github_repo.pk}/activity/").content.decode()
