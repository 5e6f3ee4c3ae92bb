"""Webhook endpoints (csrf-exempt on purpose, protected by signatures): the body read is bounded whatever
Content-Length says, signatures are compared in constant time, and a replayed delivery is ignored by every tracker."""

from __future__ import annotations

import hashlib
import hmac
import io
import json

import pytest
from django.test import RequestFactory
from django.test.client import ClientHandler

from issues.webhooks import MAX_BODY
from tests.factories import RepositoryFactory
from trackers import services as tracker_services
from trackers.adapters import TrackerSettings, WebhookSignatureError, get_adapter

pytestmark = pytest.mark.django_db


class Source(io.RawIOBase):
    """A request body of `size` bytes that counts what the server reads of it."""

    def __init__(self, size: int):
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"{" * n
        self.read_bytes += n
        return n


def config(tracker: str = "github"):
    repository = RepositoryFactory()
    fields = {"github": {"repository": "acme/app"}, "gitea": {"repository": "acme/app"},
              "gitlab": {"project_id": "1"}, "jira": {"project_key": "SEC", "email": "bot@example.com"}}[tracker]
    if tracker != "github":
        fields["instance_url"] = "https://tracker.example"
    return tracker_services.save_tracker(repository, {"type": tracker, "token": "t", **fields})


def deliver(url: str, source: Source, content_length: str | None):
    """Through the whole middleware stack, with a hand-made WSGI environment (as a server would pass it)."""
    environ = RequestFactory()._base_environ(PATH_INFO=url, REQUEST_METHOD="POST", CONTENT_TYPE="application/json",
                                             HTTP_X_GITHUB_EVENT="issues", HTTP_X_HUB_SIGNATURE_256="sha256=00")
    environ["wsgi.input"] = source
    environ.pop("CONTENT_LENGTH", None)
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    return ClientHandler()(environ)


@pytest.mark.parametrize(("content_length", "status", "most"), [
    (None, 403, 0),  # chunked: no Content-Length, nothing is read (and an empty body matches no signature)
    ("100", 403, 100),  # a lie: the body is far longer; only the 100 bytes announced are read
    (str(MAX_BODY), 403, MAX_BODY),
    (str(MAX_BODY + 1), 413, 0),  # announced too big: refused unread
    (str(10**12), 413, 0),
    ("-5", 403, 0),
    ("12abc", 400, 0),  # not a number: a clear 400, not a server error
])
def test_body_read_is_bounded_whatever_content_length_says(content_length, status, most):
    webhook = config()
    source = Source(8 * MAX_BODY)
    response = deliver(f"/api/v1/webhooks/github/{webhook.repository_id}/", source, content_length)
    assert response.status_code == status, response.content
    assert source.read_bytes <= most


def test_a_delivery_of_the_largest_size_allowed_is_accepted(client):
    webhook = config()
    secret = tracker_services.webhook_secret(webhook)
    head = b'{"zen": "'
    body = head + b"x" * (MAX_BODY - len(head) - 2) + b'"}'
    assert len(body) == MAX_BODY
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(f"/api/v1/webhooks/github/{webhook.repository_id}/", body,
                           content_type="application/json", HTTP_X_GITHUB_EVENT="ping",
                           HTTP_X_HUB_SIGNATURE_256=signature, HTTP_X_GITHUB_DELIVERY="big-1")
    assert response.status_code == 202


# --- signatures: constant time -----------------------------------------------------------------------------------
SECRET = "s3cret-webhook"
WRONG = {
    "github": {"x-hub-signature-256": "sha256=" + "0" * 64, "x-github-event": "issues"},
    "gitea": {"x-gitea-signature": "0" * 64, "x-gitea-event": "issues"},
    "jira": {"x-hub-signature": "sha256=" + "0" * 64},
    "gitlab": {"x-gitlab-token": "not-the-secret", "x-gitlab-event": "Issue Hook"},
}


@pytest.mark.parametrize("tracker", sorted(WRONG))
def test_signatures_are_compared_in_constant_time(tracker, monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    adapter = get_adapter(TrackerSettings(type=tracker, token="t", repository="acme/app", project_id="1",
                                          project_key="SEC", instance_url="https://tracker.example"))
    with pytest.raises(WebhookSignatureError):
        adapter.parse_webhook(WRONG[tracker], b'{"object_kind": "issue"}', SECRET)
    assert calls, f"{tracker}: the signature was not compared with hmac.compare_digest"


# --- replays, for every tracker ------------------------------------------------------------------------------------
def signed(tracker: str, secret: str, body: bytes, delivery: str) -> dict:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "github": {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + digest, "HTTP_X_GITHUB_EVENT": "issues",
                   "HTTP_X_GITHUB_DELIVERY": delivery},
        "gitea": {"HTTP_X_GITEA_SIGNATURE": digest, "HTTP_X_GITEA_EVENT": "issues", "HTTP_X_GITEA_DELIVERY": delivery},
        "gitlab": {"HTTP_X_GITLAB_TOKEN": secret, "HTTP_X_GITLAB_EVENT": "Issue Hook",
                   "HTTP_X_GITLAB_EVENT_UUID": delivery},
        "jira": {"HTTP_X_HUB_SIGNATURE": "sha256=" + digest, "HTTP_X_ATLASSIAN_WEBHOOK_IDENTIFIER": delivery},
    }[tracker]


BODIES = {
    "github": {"action": "closed", "issue": {"number": 5, "title": "t", "state": "closed", "html_url": "https://x/5",
                                             "created_at": "2026-11-17T13:59:48Z", "labels": [], "body": ""}},
    "gitea": {"action": "closed", "number": 3, "issue": {
        "number": 3, "title": "t", "state": "closed", "html_url": "https://x/3", "created_at": "2026-11-17T13:59:48Z",
        "labels": [], "body": ""}},
    "gitlab": {"object_kind": "issue", "event_type": "issue", "labels": [],
               "object_attributes": {"iid": 7, "title": "t", "state": "closed", "action": "close", "url": "https://x/7",
                                     "created_at": "2026-11-17T13:59:48.158Z", "description": ""}},
    "jira": {"webhookEvent": "jira:issue_updated", "issue": {"key": "SEC-4", "fields": {
        "summary": "t", "created": "2026-11-17T13:59:48.000+0000", "resolution": None,
        "status": {"name": "Done", "statusCategory": {"key": "done"}}}}},
}


@pytest.mark.parametrize("tracker", sorted(BODIES))
def test_replayed_delivery_is_ignored_for_every_tracker(client, tracker):
    webhook = config(tracker)
    secret = tracker_services.webhook_secret(webhook)
    body = json.dumps(BODIES[tracker]).encode()
    url = f"/api/v1/webhooks/{tracker}/{webhook.repository_id}/"
    first = client.post(url, body, content_type="application/json", **signed(tracker, secret, body, "delivery-1"))
    assert first.status_code == 200 and "detail" not in first.json(), first.content
    again = client.post(url, body, content_type="application/json", **signed(tracker, secret, body, "delivery-1"))
    assert again.status_code == 200 and again.json() == {"updated": False, "detail": "delivery seen before"}
