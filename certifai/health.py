"""Liveness and readiness: unauthenticated and cheap (served by certifai.middleware.ProbeMiddleware).

- /healthz: 200 while the process answers; touches nothing else, so a database or broker outage never gets the
  web process restarted.
- /readyz: 200 when the database and the Celery broker answer, else 503 with which one failed. Each check gives
  up after READY_TIMEOUT seconds (an unreachable host, a broker that accepts but never answers), so the probe
  itself answers within a few seconds whatever is down.
"""

from __future__ import annotations

import logging
import threading

from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)

READY_TIMEOUT = 2.0  # seconds, per check

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    ok = all(checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503)


def _database_ok() -> bool:
    # PostgreSQL connections give up connecting after CERTIFAI_DB_CONNECT_TIMEOUT (settings.py).
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        logger.warning("readiness: database unavailable: %s", exc)
        return False


def _broker_ok() -> bool:
    from certifai.celery import app

    url = str(app.conf.broker_url or "")
    try:
        if url.split("://", 1)[0] in ("redis", "rediss", "unix"):
            return bool(redis_client(url).ping())
        with app.connection_for_write() as conn:  # the embedded file-system broker, or another transport
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=READY_TIMEOUT)
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        logger.warning("readiness: broker unavailable: %s", exc)
        return False


def redis_client(url: str, timeout: float = READY_TIMEOUT):
    """A Redis client for probes and metrics: short timeouts and no retries, one connection pool per URL."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    key = f"{url}#{timeout}"
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                          retry=Retry(NoBackoff(), 0), health_check_interval=0)
            _clients[key] = client
    return client
