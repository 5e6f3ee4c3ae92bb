"""Log-in throttling (django-axes): 5 failed log-ins for one username from one address lock that pair out for
15 minutes, with a clear message on the log-in page; other addresses, API tokens and the test helpers still work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.http import HttpRequest
from django.urls import reverse

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
LOCKED = "Too many failed log-ins: this account is locked for 15 minutes from your address."


def log_in(client, password: str, username: str = "secuser", address: str = "203.0.113.7", **extra):
    return client.post(reverse("login"), {"username": username, "password": password, "next": "/findings/"},
                       REMOTE_ADDR=address, **extra)


def test_failed_log_ins_lock_the_account_out_with_a_clear_message(client, user):
    for _ in range(4):
        response = log_in(client, "wrong-password")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    fifth = log_in(client, "wrong-password")
    assert fifth.status_code == 429 and LOCKED in fifth.content.decode()

    sixth = log_in(client, PASSWORD)  # even the right password, now
    html = sixth.content.decode()
    assert sixth.status_code == 429
    assert LOCKED in html and 'role="alert"' in html and 'aria-describedby="login-error"' in html
    assert 'value="secuser"' in html and 'name="next" value="/findings/"' in html  # the form, ready for later
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("dashboard")).status_code == 302  # still logged out


def test_lockout_is_per_username_and_address(client, user, django_user_model):
    django_user_model.objects.create_user("other", password=PASSWORD)
    for _ in range(5):
        log_in(client, "wrong-password")
    assert log_in(client, PASSWORD).status_code == 429
    assert log_in(client, PASSWORD, username="other").status_code == 302  # another account from that address
    client.logout()
    assert log_in(client, PASSWORD, address="198.51.100.9").status_code == 302  # the user, from elsewhere


def test_x_forwarded_for_does_not_dodge_the_lockout_without_the_proxy(client, user, settings):
    settings.BEHIND_PROXY = False
    for i in range(5):
        log_in(client, "wrong-password", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
    assert log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


def test_behind_the_proxy_the_address_it_appended_counts(client, user, settings):
    settings.BEHIND_PROXY = True
    for i in range(5):  # a client making up the first entries: the proxy's own (last) one still counts
        log_in(client, "wrong-password", address="10.0.0.2", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}, 203.0.113.50")
    assert log_in(client, PASSWORD, address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.50").status_code == 429
    other_client = log_in(client, PASSWORD, address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.51")
    assert other_client.status_code == 302


def test_the_lockout_ends_after_15_minutes(client, user):
    for _ in range(5):
        log_in(client, "wrong-password")
    assert log_in(client, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert log_in(client, PASSWORD).status_code == 302


def test_a_successful_log_in_resets_the_count(client, user):
    for _ in range(4):
        log_in(client, "wrong-password")
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert log_in(client, "wrong-password").status_code == 200


def test_test_helpers_and_api_tokens_still_work(client, user):
    """force_login needs no password check; client.login does, and axes needs the request it comes with."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    assert client.login(request=HttpRequest(), username="secuser", password=PASSWORD)
    client.logout()
    client.force_login(user)
    assert client.get(reverse("dashboard")).status_code == 200
    for _ in range(6):
        log_in(client, "wrong-password", address="127.0.0.1")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert api.get("/api/v1/repositories/", REMOTE_ADDR="127.0.0.1").status_code == 200  # tokens are not throttled
