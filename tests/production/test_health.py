"""/healthz and /readyz: unauthenticated, cheap, and fast even when what they check is down."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from django.db import connection

from certifai.celery import app


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
def silent_broker():
    """A "broker" that accepts connections and never answers: the probe must give up on its own."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    server.close()


@pytest.fixture
def broker_url():
    """Point the Celery app at another broker for one test."""
    previous = app.conf.broker_url, app.conf.broker_transport_options

    def point_at(url: str, transport_options: dict | None = None) -> None:
        app.conf.broker_url = url
        if transport_options is not None:
            app.conf.broker_transport_options = transport_options

    yield point_at
    app.conf.broker_url, app.conf.broker_transport_options = previous


def test_healthz_answers_without_a_database(client):
    response = client.get("/healthz")  # no django_db mark: any database access would fail the test
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_200_when_database_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True, "broker": True}


@pytest.mark.django_db
def test_readyz_503_fast_when_the_broker_port_is_closed(client, broker_url):
    broker_url(f"redis://127.0.0.1:{closed_port()}/0")
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": True, "broker": False}


@pytest.mark.django_db
def test_readyz_503_within_its_timeout_when_the_broker_hangs(client, broker_url, silent_broker):
    broker_url(silent_broker)
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503 and response.json()["broker"] is False
    assert 1.5 < elapsed < 4  # gave up after its 2 s timeout, no retries


@pytest.mark.django_db
def test_readyz_checks_the_embedded_broker_too(client, broker_url, tmp_path):
    broker_url("filesystem://", {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)})
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["broker"] is True


@pytest.mark.django_db(transaction=True)
def test_readyz_503_fast_when_the_database_is_unreachable(client):
    connection.close()
    original = connection.settings_dict["PORT"], connection.settings_dict["HOST"]
    assert connection.vendor == "postgresql", "the test suite runs against PostgreSQL (make test sets DATABASE_URL)"
    connection.settings_dict["PORT"] = closed_port()
    connection.settings_dict["HOST"] = "127.0.0.1"
    try:
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        connection.close()
        connection.settings_dict["PORT"], connection.settings_dict["HOST"] = original
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": False, "broker": True}
    assert elapsed < 3


def test_postgresql_connections_give_up_after_a_connect_timeout(settings):
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql", "the test suite runs against PostgreSQL"
    assert database["OPTIONS"]["connect_timeout"] == 5


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_by_address_over_plain_http(client, settings, path):
    """An orchestrator asks by the container's address, over HTTP, whatever CERTIFAI_ALLOWED_HOSTS and the HTTPS
    redirect say; the answer still carries a request id."""
    settings.ALLOWED_HOSTS = ["certifai.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(path, HTTP_HOST="10.0.3.7:8000")
    assert response.status_code == 200
    assert response["X-Request-ID"]
    assert client.get("/", HTTP_HOST="10.0.3.7:8000").status_code == 400  # everything else: host checked


def test_probes_take_get_only(client):
    assert client.post("/healthz").status_code == 405
