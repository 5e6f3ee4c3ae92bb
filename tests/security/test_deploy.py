"""Web hardening: `check --deploy` is clean with production settings, `make run`'s plain-HTTP settings still work,
and every page carries the security headers (CSP, X-Frame-Options, ...)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse

from tests.factories import member

ROOT = Path(__file__).resolve().parents[2]
CSP_DIRECTIVES = {
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
    "font-src": "'self'", "frame-ancestors": "'none'", "form-action": "'self'", "object-src": "'none'",
    "base-uri": "'self'",
}


def environment(tmp_path, **overrides) -> dict[str, str]:
    """The process environment of a production instance (nothing inherited that could change the answer)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CERTIFAI_") and key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "certifai.settings",
        "CERTIFAI_SECRET_KEY": secrets.token_urlsafe(50),
        "CERTIFAI_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CERTIFAI_ALLOWED_HOSTS": "certifai.example.com",
        "CERTIFAI_BASE_URL": "https://certifai.example.com",
        "CERTIFAI_LOCAL_DIR": str(tmp_path / "local"),
        "DATABASE_URL": "postgres://certifai@db.invalid:5432/certifai",  # `check` without --database: never used
        "REDIS_URL": "redis://redis.invalid:6379/0",
    })
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("proxy", [None, "1"])
def test_check_deploy_is_clean_with_production_settings(tmp_path, proxy):
    result = run(environment(tmp_path, CERTIFAI_BEHIND_PROXY=proxy),
                 "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_names_what_is_missing(tmp_path):
    """The same check fails loudly when production is configured like a laptop."""
    result = run(environment(tmp_path, CERTIFAI_DEBUG="1", CERTIFAI_BASE_URL="http://certifai.example.com"),
                 "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016", "security.W018"):
        assert check in result.stderr


SHOWN = ["SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
         "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
         "X_FRAME_OPTIONS", "CSRF_TRUSTED_ORIGINS"]
SHOW = ("import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {SHOWN!r}}}))")


def settings_of(env) -> dict:
    result = run(env, "-c", SHOW)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_make_run_on_plain_http_keeps_working(tmp_path):
    """`make run` serves http://127.0.0.1:8000 with DEBUG off: no secure-only cookie, no HTTPS redirect, no HSTS."""
    env = environment(tmp_path, CERTIFAI_BASE_URL=None, CERTIFAI_ALLOWED_HOSTS=None, CERTIFAI_SECRET_KEY=None,
                      CERTIFAI_ENCRYPTION_KEY=None, DATABASE_URL=None, REDIS_URL=None)
    values = settings_of(env)
    assert values["SESSION_COOKIE_SECURE"] is False and values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_HTTPONLY"] and values["CSRF_COOKIE_HTTPONLY"] and values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_PROXY_SSL_HEADER"] is None


def test_https_base_url_turns_the_tls_settings_on(tmp_path):
    values = settings_of(environment(tmp_path))
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SECURE_SSL_REDIRECT"]
    assert values["SECURE_HSTS_SECONDS"] >= 31536000 and values["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://certifai.example.com"]
    assert values["SECURE_PROXY_SSL_HEADER"] is None  # X-Forwarded-Proto is trusted only behind the proxy
    behind = settings_of(environment(tmp_path, CERTIFAI_BEHIND_PROXY="1"))
    assert behind["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


# --- headers -------------------------------------------------------------------------------------------------------
def csp_of(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in (p.strip() for p in header.split(";")) if part}


def assert_security_headers(response) -> None:
    policy = csp_of(response)
    for directive, value in CSP_DIRECTIVES.items():
        assert policy.get(directive) == value, (directive, policy)
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
def test_pages_send_the_csp_and_frame_headers(client, django_user_model, api_client):
    assert_security_headers(client.get(reverse("login")))
    client.force_login(member(django_user_model.objects.create_user("headers", password="pw-headers-123")))
    for name in ("dashboard", "repository-list", "repository-add", "scan-list", "finding-list", "issue-list"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert_security_headers(response)
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert_security_headers(docs)
    assert_security_headers(api_client.get("/api/v1/repositories/"))


@pytest.mark.django_db
def test_api_docs_need_no_inline_script_or_style_and_no_cdn(client, django_user_model):
    client.force_login(member(django_user_model.objects.create_user("docs", password="pw-docs-12345")))
    html = client.get("/api/v1/docs/").content.decode()
    assert "<style" not in html and "cdn." not in html
    assert "<script>" not in html  # every script has a src (ours)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html


@pytest.mark.django_db
def test_templates_have_no_inline_scripts_styles_or_handlers():
    """What the CSP forbids, the templates don't use (the htmx meta config keeps htmx's own inline styles off)."""
    import re

    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"<style\b", text) \
                or re.search(r"\sstyle=", text) or re.search(r"\son[a-z]+=", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
    base = (ROOT / "templates" / "base.html").read_text()
    assert '"includeIndicatorStyles": false' in base and '"allowEval": false' in base


@pytest.mark.django_db
def test_https_redirect_and_hsts_when_on(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get(reverse("login"))
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200  # probes speak plain HTTP
    secure = client.get(reverse("login"), secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


@pytest.mark.django_db
def test_cookies_are_httponly_samesite_and_secure_over_https(client, settings, django_user_model):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    django_user_model.objects.create_user("cookie", password="pw-cookie-12345")
    client.get(reverse("login"), secure=True)
    response = client.post(reverse("login"), {"username": "cookie", "password": "pw-cookie-12345"}, secure=True)
    assert response.status_code == 302
    for name in ("sessionid", "csrftoken"):
        cookie = client.cookies[name]
        assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax", name


@pytest.mark.django_db
def test_csrf_is_enforced_on_pages_but_not_on_signed_webhooks(django_user_model):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member(django_user_model.objects.create_user("csrf", password="pw-csrf-12345")))
    assert client.post(reverse("repository-add"), {"name": "acme/x"}).status_code == 403
    assert client.post("/api/v1/repositories/", {"name": "acme/x"}).status_code == 403  # session auth: CSRF too
    # webhooks are exempt on purpose: the signature protects them
    assert client.post("/api/v1/webhooks/github/999999/", b"{}", content_type="application/json").status_code == 404
