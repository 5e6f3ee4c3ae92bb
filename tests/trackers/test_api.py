"""The tracker part of the repositories API: fields per type, write-only token, connection test."""

from __future__ import annotations

import logging

import pytest

from trackers.crypto import decrypt
from trackers.fakes.github import FakeGitHub
from trackers.models import TrackerConfig

pytestmark = pytest.mark.django_db

CANARY = "ghp_CanaryToken_4c1d2e3f4a5b6c7d8e9f0a1b2c3d"


@pytest.fixture
def github():
    fake = FakeGitHub(tokens={CANARY: {"login": "bot", "repos": {"acme/app": "write"}}}).start()
    yield fake
    fake.stop()


def create(api_client, tracker, name="acme/app"):
    return api_client.post("/api/v1/repositories/", {"name": name, "tracker": tracker}, format="json")


def test_tracker_round_trip_never_returns_the_token(api_client, github, caplog):
    caplog.set_level(logging.DEBUG)
    response = create(api_client, {"type": "github", "repository": "acme/app", "token": CANARY,
                                   "api_url": github.url, "labels": ["security"], "min_severity": "high"})
    assert response.status_code == 201, response.json()
    tracker = response.json()["tracker"]
    assert tracker == {"type": "github", "repository": "acme/app", "api_url": github.url, "has_token": True,
                       "min_severity": "high", "labels": ["security"], "auto_close": True,
                       "reopen_policy": "unless_accepted", "sync_paused": False, "sync_error": ""}
    pk = response.json()["id"]
    config = TrackerConfig.objects.get(repository_id=pk)
    assert CANARY not in config.token_encrypted and decrypt(config.token_encrypted) == CANARY

    test = api_client.post(f"/api/v1/repositories/{pk}/tracker/test/").json()
    assert test["ok"] is True and "acme/app" in test["message"]
    for url in ["/api/v1/repositories/", f"/api/v1/repositories/{pk}/", "/api/v1/schema/"]:
        assert CANARY not in api_client.get(url).content.decode()
    assert CANARY not in caplog.text


def test_partial_update_keeps_the_token_and_type_change_drops_it(api_client, github):
    pk = create(api_client, {"type": "github", "repository": "acme/app", "token": CANARY,
                             "api_url": github.url}).json()["id"]
    patched = api_client.patch(f"/api/v1/repositories/{pk}/", {"tracker": {"min_severity": "critical"}},
                               format="json")
    assert patched.status_code == 200 and patched.json()["tracker"]["min_severity"] == "critical"
    assert decrypt(TrackerConfig.objects.get(repository_id=pk).token_encrypted) == CANARY
    switched = api_client.patch(f"/api/v1/repositories/{pk}/", {"tracker": {"type": "jira", "project_key": "SEC",
                                                                            "instance_url": "https://j.example"}},
                                format="json")
    assert switched.status_code == 400 and "token" in switched.json()["tracker"]
    removed = api_client.patch(f"/api/v1/repositories/{pk}/", {"tracker": None}, format="json")
    assert removed.json()["tracker"] is None and not TrackerConfig.objects.exists()


@pytest.mark.parametrize(
    ("tracker", "field", "words"),
    [
        ({"type": "github", "token": "t"}, "repository", "required"),
        ({"type": "github", "repository": "not a repo", "token": "t"}, "repository", "owner/name"),
        ({"type": "gitlab", "token": "t"}, "project_id", "required"),
        ({"type": "gitea", "repository": "a/b", "token": "t"}, "instance_url", "required"),
        ({"type": "jira", "project_key": "sec", "instance_url": "https://j.example", "token": "t"}, "project_key",
         "project key"),
        ({"type": "jira", "project_key": "SEC", "instance_url": "https://j.example", "token": "t",
          "labels": ["two words"]}, "labels", "spaces"),
        ({"type": "svn", "token": "t"}, "type", "valid choice"),
        ({"type": "github", "repository": "a/b", "token": "t", "min_severity": "urgent"}, "min_severity", "valid"),
    ],
)
def test_bad_values_say_what_to_fix(api_client, tracker, field, words):
    response = create(api_client, tracker)
    assert response.status_code == 400
    errors = response.json()["tracker"]
    assert field in errors and words in str(errors[field])


def test_connection_test_says_what_to_fix(api_client, github):
    pk = create(api_client, {"type": "github", "repository": "acme/app", "token": "ghp_wrong",
                             "api_url": github.url}).json()["id"]
    result = api_client.post(f"/api/v1/repositories/{pk}/tracker/test/").json()
    assert result["ok"] is False and "token" in result["message"].lower()
    bare = api_client.post("/api/v1/repositories/", {"name": "no/tracker"}, format="json").json()["id"]
    assert api_client.post(f"/api/v1/repositories/{bare}/tracker/test/").json()["ok"] is False
