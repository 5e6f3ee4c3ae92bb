from __future__ import annotations

import json

import pytest

from tests.factories import RepositoryFactory

PASSWORD = "pw-security-user-123"


def sarif(results: int = 2, tool: str = "CodeQL", **result_extra) -> dict:
    return {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": tool}}, "results": [
        {"ruleId": f"py/rule-{i}", "level": "error", "message": {"text": f"finding {i}"}, **result_extra,
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": f"app/f{i}.py"},
                                             "region": {"startLine": i + 1}}}]}
        for i in range(results)]}]}


def sarif_bytes(results: int = 2, **extra) -> bytes:
    return json.dumps(sarif(results, **extra)).encode()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The log-in tests check dozens of passwords; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(django_user_model):
    from tests.factories import member

    return member(django_user_model.objects.create_user("secuser", password=PASSWORD))


@pytest.fixture
def web(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def repository(db):
    return RepositoryFactory(name="acme/app")
