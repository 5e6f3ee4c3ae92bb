"""Log-in throttling hooks for django-axes (settings AXES_LOCKOUT_CALLABLE and AXES_CLIENT_IP_CALLABLE)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme


def client_ip(request: HttpRequest) -> str | None:
    """The address a log-in attempt came from.

    Behind the reverse proxy (CERTIFAI_BEHIND_PROXY=1) that is the last X-Forwarded-For entry, the one the proxy
    appended itself; the entries before it are the client's word. Otherwise REMOTE_ADDR: X-Forwarded-For is then
    ignored, or anyone could dodge the lockout by sending a new address with each attempt.
    """
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR") or None


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        f"Too many failed log-ins: this account is locked for {minutes} minutes from your address. "
        "Wait and try again, or ask an administrator to unlock it."
    )


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The log-in page again, with the lockout message instead of the form's error (HTTP 429)."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = ""
    form = AuthenticationForm(request, initial={"username": username[:150]})
    context = {"form": form, "next": next_url, "lockout": lockout_message()}
    return render(request, "registration/login.html", context, status=429)
