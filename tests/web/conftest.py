import pytest

from . import factories


@pytest.fixture
def user(django_user_model):
    from tests.factories import member

    return member(django_user_model.objects.create_user("webuser", password="pw-web-user-123"))


@pytest.fixture
def web(client, user):
    """A Django test client logged in as an ordinary user."""
    client.force_login(user)
    return client


@pytest.fixture
def no_sync(monkeypatch):
    """Record instead of running the tracker sync task (web tests talk to no tracker)."""
    calls = []
    from issues import tasks

    monkeypatch.setattr(tasks.sync_repository, "delay", lambda repository_id: calls.append(repository_id))
    return calls


@pytest.fixture
def f():
    return factories
