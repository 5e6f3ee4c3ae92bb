"""Request ids and the probe endpoints (first in settings.MIDDLEWARE)."""

from __future__ import annotations

import logging
import time

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

from .logging import new_request_id, request_id_var, sane_request_id

logger = logging.getLogger("certifai.request")

PROBE_PATHS = ("/healthz", "/readyz", "/metrics")


class RequestIdMiddleware:
    """Gives each request an id: the incoming X-Request-ID when it is a sane token (a proxy's or load balancer's
    trace id), else a new one. It is in the context of every log line written while the request is served, in
    the header of every Celery task the request queues, and in the X-Request-ID response header. One log line a
    request (method, path, status, duration); probes at DEBUG only."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = sane_request_id(request.META.get("HTTP_X_REQUEST_ID")) or new_request_id()
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            duration_ms = round((time.monotonic() - started) * 1000, 1)
            logger.log(
                logging.DEBUG if request.path_info in PROBE_PATHS else logging.INFO,
                "%s %s %s %sms", request.method, request.path_info, response.status_code, duration_ms,
                extra={"method": request.method, "path": request.path_info, "status": response.status_code,
                       "duration_ms": duration_ms},
            )
            return response
        finally:
            request_id_var.reset(token)


class ProbeMiddleware:
    """Answers /healthz, /readyz and /metrics before host validation, the HTTPS redirect, sessions and
    authentication: a load balancer, an orchestrator or Prometheus asks by address ("10.0.3.7:8000", "web:8000"),
    not by a name in CERTIFAI_ALLOWED_HOSTS, and over plain HTTP inside the network. Nothing else is served here:
    the responses depend on no host name, and /metrics checks who asks itself (certifai.metrics)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info not in PROBE_PATHS:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        from . import health, metrics

        view = {"/healthz": health.healthz, "/readyz": health.readyz, "/metrics": metrics.metrics_view}
        return view[request.path_info](request)
