"""Webhooks: a tracker pushes a status change; the signature decides, replays and junk change nothing."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from findings.services import record_scan
from issues import services
from issues.models import TrackerIssue
from tests.factories import member
from trackers import services as tracker_services
from trackers.adapters import TrackerSettings, WebhookSignatureError, get_adapter

from .conftest import parsed

pytestmark = pytest.mark.django_db


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def filed(github, github_repo):
    scan = record_scan(repository=github_repo, findings=[parsed()], tools=["CodeQL"])
    services.plan_scan(scan)
    services.sync_repository(github_repo.pk)
    row = TrackerIssue.objects.get(repository=github_repo)
    assert row.state == "open"
    return row


def github_delivery(github, row, state="closed", reason="not_planned"):
    issue = {**github.issue("acme/app", int(row.external_id)), "state": state, "state_reason": reason}
    return json.dumps({"action": "closed", "issue": issue}).encode()


def post(client, row, body, signature, delivery="d-1", event="issues"):
    return client.post(f"/api/v1/webhooks/github/{row.repository_id}/", body, content_type="application/json",
                       HTTP_X_HUB_SIGNATURE_256=signature, HTTP_X_GITHUB_EVENT=event, HTTP_X_GITHUB_DELIVERY=delivery)


def test_signed_delivery_updates_the_issue_at_once(client, github, filed):
    secret = tracker_services.webhook_secret(filed.tracker_config)
    body = github_delivery(github, filed)
    response = post(client, filed, body, "sha256=" + sign(secret, body))
    assert response.status_code == 200 and response.json() == {"updated": True}
    filed.refresh_from_db()
    assert filed.state == "closed" and filed.accepted_risk


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha1=abc", "sha256=" + sign("wrong", b"{}")])
def test_bad_signature_is_403_and_changes_nothing(client, github, filed, signature):
    response = post(client, filed, github_delivery(github, filed), signature)
    assert response.status_code == 403
    filed.refresh_from_db()
    assert filed.state == "open" and not filed.accepted_risk


def test_replayed_delivery_is_ignored(client, github, filed):
    secret = tracker_services.webhook_secret(filed.tracker_config)
    closed = github_delivery(github, filed)
    assert post(client, filed, closed, "sha256=" + sign(secret, closed), delivery="same").json()["updated"]
    TrackerIssue.objects.filter(pk=filed.pk).update(state="open")
    replay = post(client, filed, closed, "sha256=" + sign(secret, closed), delivery="same")
    assert replay.status_code == 200 and replay.json()["updated"] is False
    filed.refresh_from_db()
    assert filed.state == "open"


def test_other_events_and_unknown_repositories(client, github, filed):
    secret = tracker_services.webhook_secret(filed.tracker_config)
    body = json.dumps({"zen": "Keep it logically awesome."}).encode()
    assert post(client, filed, body, "sha256=" + sign(secret, body), event="ping").status_code == 202
    unknown = client.post("/api/v1/webhooks/github/999999/", body, content_type="application/json")
    assert unknown.status_code == 404
    wrong_type = client.post(f"/api/v1/webhooks/gitlab/{filed.repository_id}/", body, content_type="application/json")
    assert wrong_type.status_code == 404


def test_oversized_body_is_refused(client, github, filed):
    secret = tracker_services.webhook_secret(filed.tracker_config)
    body = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    assert post(client, filed, body, "sha256=" + sign(secret, body)).status_code == 413


# --- each adapter's parser, with the payloads the trackers document --------------------------------------------

SECRET = "s3cret-webhook"


def adapter(tracker_type: str):
    return get_adapter(TrackerSettings(type=tracker_type, token="t", repository="acme/app", project_id="1",
                                       project_key="SEC", instance_url="https://tracker.example"))


def test_gitlab_issue_hook():
    body = json.dumps({
        "object_kind": "issue", "event_type": "issue",
        "object_attributes": {"iid": 7, "title": "[HIGH] x", "state": "closed", "action": "close",
                              "url": "https://gitlab.example/acme/app/-/issues/7",
                              "created_at": "2026-11-17T13:59:48.158Z", "description": "d"},
        "labels": [{"title": "certifai"}, {"title": "won't fix"}],
    }).encode()
    issue = adapter("gitlab").parse_webhook({"x-gitlab-token": SECRET, "x-gitlab-event": "Issue Hook"}, body, SECRET)
    assert (issue.external_id, issue.state, issue.accepted_risk) == ("7", "closed", True)
    assert issue.url.endswith("/issues/7")
    with pytest.raises(WebhookSignatureError):
        adapter("gitlab").parse_webhook({"x-gitlab-token": "nope"}, body, SECRET)


def test_gitea_issue_hook():
    body = json.dumps({"action": "reopened", "number": 3, "issue": {
        "number": 3, "title": "t", "state": "open", "html_url": "https://gitea.example/acme/app/issues/3",
        "created_at": "2026-11-17T13:59:48Z", "labels": [], "body": ""}}).encode()
    headers = {"x-gitea-event": "issues", "x-gitea-signature": sign(SECRET, body)}
    issue = adapter("gitea").parse_webhook(headers, body, SECRET)
    assert (issue.external_id, issue.state) == ("3", "open")
    with pytest.raises(WebhookSignatureError):
        adapter("gitea").parse_webhook({**headers, "x-gitea-signature": sign("other", body)}, body, SECRET)


def test_jira_issue_updated():
    body = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"key": "SEC-4", "fields": {
        "summary": "t", "created": "2026-11-17T13:59:48.000+0000", "resolution": {"name": "Won't Do"},
        "status": {"name": "Closed", "statusCategory": {"key": "done"}}}}}).encode()
    headers = {"x-hub-signature": "sha256=" + sign(SECRET, body)}
    issue = adapter("jira").parse_webhook(headers, body, SECRET)
    assert (issue.external_id, issue.state, issue.status, issue.accepted_risk) == ("SEC-4", "closed", "Closed", True)
    assert issue.url == "https://tracker.example/browse/SEC-4"
    with pytest.raises(WebhookSignatureError):
        adapter("jira").parse_webhook({}, body, SECRET)


def test_repository_page_shows_the_webhook_to_set_up(client, django_user_model, github_repo):
    client.force_login(member(django_user_model.objects.create_user("carol")))
    html = client.get(f"/repositories/{github_repo.pk}/").content.decode()
    config = github_repo.tracker
    assert f"/api/v1/webhooks/github/{github_repo.pk}/" in html
    assert tracker_services.webhook_secret(config) in html
    assert "Issues" in html
