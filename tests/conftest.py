from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def pytest_configure(config):
    # Unit tests run Celery tasks in-process; integration tests start a real worker themselves.
    from certifai.celery import app

    app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def isolated_cache(settings, request):
    """Each test gets an empty in-process cache (webhook replay ids, schedule hints); real workers in the
    integration tests use Redis themselves."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": request.node.nodeid}}


@pytest.fixture(autouse=True)
def tracker_allowed_hosts(settings):
    """The fake trackers listen on 127.0.0.1 over http: allowed explicitly, as CERTIFAI_TRACKER_ALLOWED_HOSTS
    would be for a self-hosted tracker (trackers/netguard.py refuses loopback and plain http otherwise)."""
    settings.TRACKER_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def api_client(django_user_model):
    from rest_framework.test import APIClient

    from tests.factories import member

    # Admin of the team RepositoryFactory uses by default (tests/security/test_access_control.py tries the others).
    user = member(django_user_model.objects.create_user("alice", password="pw-alice-123"))
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client
