"""Webhook endpoints: trackers push issue status changes; a bad signature changes nothing (403)."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from trackers import services as tracker_services
from trackers.adapters import TrackerConfigError, WebhookSignatureError, get_adapter
from trackers.crypto import SecretError
from trackers.models import TrackerConfig

from . import services

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # issue events are a few KB; anything bigger is not one
DELIVERY_HEADERS = ("x-github-delivery", "x-gitea-delivery", "x-gitlab-event-uuid", "x-atlassian-webhook-identifier")
REPLAY_WINDOW = 24 * 3600


@csrf_exempt
@require_POST
def receive(request: HttpRequest, tracker: str, repository_id: int) -> JsonResponse:
    config = TrackerConfig.objects.filter(repository_id=repository_id, type=tracker).first()
    if config is None or not config.webhook_secret_encrypted:
        return JsonResponse({"detail": "no such webhook"}, status=404)
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return JsonResponse({"detail": "Content-Length is not a number"}, status=400)
    # Django reads at most Content-Length bytes (none without it), so the body read stays within MAX_BODY.
    if length > MAX_BODY:
        return JsonResponse({"detail": f"body larger than {MAX_BODY} bytes"}, status=413)
    body = request.body
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        adapter = get_adapter(tracker_services.tracker_settings(config))
        issue = adapter.parse_webhook(headers, body, tracker_services.webhook_secret(config))
    except WebhookSignatureError as exc:
        logger.warning("webhook for repository %s refused: %s", repository_id, exc)
        return JsonResponse({"detail": "signature does not match"}, status=403)
    except (TrackerConfigError, SecretError) as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    delivery = next((headers[h] for h in DELIVERY_HEADERS if headers.get(h)), "")
    if delivery and not cache.add(f"certifai:webhook:{tracker}:{delivery}", 1, timeout=REPLAY_WINDOW):
        return JsonResponse({"updated": False, "detail": "delivery seen before"})
    if issue is None:
        return JsonResponse({"updated": False, "detail": "not an issue event"}, status=202)
    updated = services.apply_webhook_issue(config, issue)
    return JsonResponse({"updated": updated})
