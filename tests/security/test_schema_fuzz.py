"""The REST API fuzzed from its own OpenAPI schema (schemathesis): requests generated for every operation, as an
authenticated client (DRF token), must never get a server error.

The app is called in-process through its WSGI application (certifai.wsgi), with a transactional database since each
request opens and closes its connection as in production. No request leaves the machine: name resolution and
connections to anything but loopback are refused (a tracker URL in a generated repository is then unreachable, as
one on the internet may be).
"""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from certifai.wsgi import application
from tests.factories import RepositoryFactory, member

EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "20"))
# Loaded when the module is collected (schema generation reads no database). Not through a fixture:
# schemathesis.pytest.from_fixture (4.32.5) reads pytest's private Node._nodeid, which pytest 9 no longer has.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
STATUS_LOG = os.environ.get("SCHEMA_FUZZ_STATUS_LOG")  # a file to append "OPERATION STATUS" lines to, when exploring


def _loopback(host) -> bool:
    if host in ("localhost", None):
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


@pytest.fixture
def offline(monkeypatch):
    """Refuse DNS and connections beyond loopback for the test's duration."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host if not isinstance(host, bytes) else host.decode()):
            raise socket.gaierror(socket.EAI_NONAME, "name resolution is off in this test")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise ConnectionRefusedError("connections beyond loopback are off in this test")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def token(transactional_db, django_user_model):
    from rest_framework.authtoken.models import Token

    user = member(django_user_model.objects.create_user("fuzzer", password="pw-fuzzer-12345"))
    return Token.objects.create(user=user).key


@pytest.fixture
def rows(transactional_db, offline) -> dict[str, list[int]]:
    """Rows of every kind for the generated requests to find: a repository with a GitHub tracker, a scan with
    findings, tracker issues (one failed, one synced). Returns the ids by the path they are found under."""
    from findings.services import record_scan
    from issues.models import TrackerIssue
    from tests.issues.conftest import parsed
    from trackers import services as tracker_services

    repositories = [RepositoryFactory() for _ in range(2)]
    scan = record_scan(repository=repositories[0], tools=["CodeQL"],
                       findings=[parsed(line=10), parsed(rule="py/xss", line=20)])
    config = tracker_services.save_tracker(repositories[0], {"type": "github", "repository": "acme/app",
                                                             "token": "ghp_fuzz", "min_severity": "low"})
    findings = list(scan.repository.findings.all())
    issues = [
        TrackerIssue.objects.create(repository=repositories[0], tracker_config=config, tracker="github",
                                    fingerprint=findings[0].fingerprint, finding=findings[0], sync_state="failed",
                                    pending_action="create", last_error="timed out"),
        TrackerIssue.objects.create(repository=repositories[0], tracker_config=config, tracker="github",
                                    fingerprint=findings[1].fingerprint, finding=findings[1], external_id="7",
                                    title="[HIGH] py/xss", url="https://github.com/acme/app/issues/7", state="open",
                                    sync_state="synced"),
    ]
    return {"repositories": [r.pk for r in repositories], "scans": [scan.pk], "findings": [f.pk for f in findings],
            "issues": [i.pk for i in issues]}


def _operations() -> list:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("operation", _operations(), ids=lambda operation: operation.label)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_no_server_errors(operation, data, token, rows):
    # One pytest test per operation, named after it (schemathesis' own @schema.parametrize() names every test alike
    # under pytest 9). The multipart scan upload is kept: its generated files are rejected quickly.
    case = data.draw(operation.as_strategy())
    if "id" in (case.path_parameters or {}) and data.draw(st.integers(0, 3)):
        # Mostly an object that exists, else the request only ever meets a 404.
        case.path_parameters["id"] = data.draw(st.sampled_from(rows[operation.path.split("/")[3]]))
    response = case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=[not_a_server_error])
    assert response.status_code != 401, "the token was not accepted: the fuzzing would only see the login wall"
    if STATUS_LOG:
        with open(STATUS_LOG, "a") as log:
            log.write(f"{operation.label} {response.status_code}\n")
