"""/metrics in the Prometheus text format, safe with any number of gunicorn and Celery processes.

Nothing is counted in process memory (each gunicorn worker and Celery pool process would count only its own
share, and lose it on restart). Instead each scrape reads:

- the database: scans by status, open findings by severity, tracker issues by tracker / state / sync state,
  what Certifai did on the trackers (IssueEvent: create, reopen, close, move; ok or failed) per tracker, and
  repositories whose sync is paused;
- Redis: the Celery queue's length and the messages workers hold unacknowledged (absent with the embedded
  broker), and the tracker call latency histogram.

Tracker call latency is measured where the pipeline calls a tracker (`timed_tracker_call`, used by
issues/services.py) and kept in one Redis hash shared by every process on every host: one pipelined HINCRBY pair
per call, a bucket count and the sum. Prometheus multiprocess mode was the alternative; it needs one directory
shared by every process that records (web and workers run in different containers and hosts) and cleaning up
after dead processes, while Redis is already shared by all of them. Without Redis (`make run`'s embedded broker)
latency isn't recorded.

Who may read it: with CERTIFAI_METRICS_TOKEN set, whoever sends `Authorization: Bearer <token>`; without it, only
clients on loopback or a private network (RFC 1918, unique-local IPv6): the client address is REMOTE_ADDR, or
behind the proxy (CERTIFAI_BEHIND_PROXY=1) the address the proxy appended to X-Forwarded-For.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)  # seconds; +Inf after the last
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7",
))
# kombu's Redis transport keeps a queue in one list per priority step: "name", "name\x06\x163", ...
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)
KOMBU_UNACKED_KEY = "unacked"


# --- recording tracker call latency --------------------------------------------------------------


def latency_key() -> str:
    """One hash per deployment: deployments sharing a Redis have different Celery queues anyway."""
    return f"certifai:metrics:{settings.CELERY_TASK_DEFAULT_QUEUE}:tracker_calls"


def _redis():
    from .health import redis_client

    return redis_client(settings.REDIS_URL, timeout=0.5)


def record_tracker_call(tracker: str, operation: str, outcome: str, seconds: float) -> None:
    """Count one tracker call in the latency histogram. Never raises: metrics must not break the pipeline."""
    if not settings.REDIS_URL:
        return
    bucket = bisect_left(LATENCY_BUCKETS, seconds)  # index of the first bound >= seconds; len() for +Inf
    field = f"{tracker}|{operation}|{outcome}"
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.hincrby(latency_key(), f"{field}|b{bucket}", 1)
        pipe.hincrby(latency_key(), f"{field}|sum_us", max(int(seconds * 1_000_000), 0))
        pipe.execute()
    except Exception as exc:  # noqa: BLE001
        logger.debug("tracker latency not recorded: %s", exc)


@contextmanager
def timed_tracker_call(tracker: str, operation: str) -> Iterator[None]:
    """Time the calls to a tracker made in the block; outcome "error" when it raises."""
    started = time.monotonic()
    outcome = "ok"
    try:
        yield
    except BaseException:
        outcome = "error"
        raise
    finally:
        record_tracker_call(tracker, operation, outcome, time.monotonic() - started)


# --- the collector ----------------------------------------------------------------------------------


class CertifaiCollector:
    """Computes every metric at scrape time; see the module's docstring."""

    def collect(self):
        yield from self._database()
        if settings.REDIS_URL:
            yield from self._redis()

    def _database(self):
        from findings.models import Finding, Scan
        from findings.selectors import severity_counts
        from issues.models import IssueEvent, TrackerIssue
        from trackers.models import TrackerConfig

        scans = GaugeMetricFamily("certifai_scans", "Scans by status.", labels=["status"])
        by_status = dict(Scan.objects.order_by().values_list("status").annotate(n=Count("id")))
        for status in Scan.Status.values:
            scans.add_metric([status], by_status.get(status, 0))
        yield scans

        findings = GaugeMetricFamily("certifai_findings_open", "Open findings by severity.", labels=["severity"])
        for severity, n in severity_counts(Finding.objects.filter(status=Finding.Status.OPEN)).items():
            findings.add_metric([severity], n)
        yield findings

        issues = GaugeMetricFamily(
            "certifai_tracker_issues",
            "Tracker issues by tracker, state (open, closed; empty while not filed yet) and sync state "
            "(synced, pending, failed).", labels=["tracker", "state", "sync"])
        for tracker, state, sync, n in (TrackerIssue.objects.order_by().values_list("tracker", "state", "sync_state")
                                        .annotate(n=Count("id"))):
            issues.add_metric([tracker, state, sync], n)
        yield issues

        actions = CounterMetricFamily(
            "certifai_tracker_issue_actions",
            "What Certifai did on the trackers: issues created, reopened, closed and moved-code notes, by outcome "
            "(ok, failed: one failed attempt each).", labels=["tracker", "action", "outcome"])
        for tracker, action, ok, n in (IssueEvent.objects.order_by().values_list("issue__tracker", "action", "ok")
                                       .annotate(n=Count("id"))):
            actions.add_metric([tracker, action or "none", "ok" if ok else "failed"], n)
        yield actions

        paused = dict(TrackerConfig.objects.order_by().values_list("sync_paused").annotate(n=Count("id")))
        repositories = GaugeMetricFamily("certifai_repositories", "Repositories with a tracker configured.",
                                         value=sum(paused.values()))
        yield repositories
        yield GaugeMetricFamily("certifai_repositories_sync_paused",
                                "Repositories whose tracker sync is paused (rejected token): fix their settings.",
                                value=paused.get(True, 0))

    def _redis(self):
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        try:
            client = _redis()
            pipe = client.pipeline(transaction=False)
            for step in KOMBU_PRIORITY_STEPS:
                pipe.llen(f"{queue}{KOMBU_PRIORITY_SEP}{step}" if step else queue)
            pipe.hlen(KOMBU_UNACKED_KEY)
            pipe.hgetall(latency_key())
            *lengths, unacked, latency = pipe.execute()
        except Exception as exc:  # noqa: BLE001
            logger.warning("metrics: Redis unavailable: %s", exc)
            yield GaugeMetricFamily("certifai_broker_up", "Whether the Celery broker (Redis) answered.", value=0)
            return
        yield GaugeMetricFamily("certifai_broker_up", "Whether the Celery broker (Redis) answered.", value=1)
        depth = GaugeMetricFamily("certifai_celery_queue_length", "Tasks waiting in the Celery queue.",
                                  labels=["queue"])
        depth.add_metric([queue], sum(lengths))
        yield depth
        yield GaugeMetricFamily(
            "certifai_celery_unacked_messages",
            "Tasks taken by workers and not yet acknowledged (running, or waiting for their countdown), all queues "
            "of this Redis database.", value=unacked)
        yield _latency_histogram(latency)


def _latency_histogram(fields: dict) -> HistogramMetricFamily:
    histogram = HistogramMetricFamily(
        "certifai_tracker_call_duration_seconds",
        "How long the pipeline's tracker calls took (create, reopen, close, move), by outcome (ok, error).",
        labels=["tracker", "operation", "outcome"])
    series: dict[tuple[str, str, str], dict[str, int]] = {}
    for raw_field, raw_value in fields.items():
        name = raw_field.decode() if isinstance(raw_field, bytes) else str(raw_field)
        parts = name.split("|")
        if len(parts) != 4:
            continue
        series.setdefault((parts[0], parts[1], parts[2]), {})[parts[3]] = int(raw_value)
    for labels, values in sorted(series.items()):
        buckets, cumulative = [], 0
        for index, bound in enumerate((*LATENCY_BUCKETS, float("inf"))):
            cumulative += values.get(f"b{index}", 0)
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        histogram.add_metric(list(labels), buckets, values.get("sum_us", 0) / 1_000_000)
    return histogram


# --- the view -----------------------------------------------------------------------------------------


def _client_address(request: HttpRequest):
    from .security import client_ip

    try:
        address = ipaddress.ip_address((client_ip(request) or "").split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _refusal(request: HttpRequest) -> HttpResponse | None:
    token = getattr(settings, "CERTIFAI_METRICS_TOKEN", "")
    if token:
        scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode()):
            return None
        response = HttpResponse("Send Authorization: Bearer <CERTIFAI_METRICS_TOKEN>.\n", status=401,
                                content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    address = _client_address(request)
    if address is not None and any(address in network for network in PRIVATE_NETWORKS
                                   if network.version == address.version):
        return None
    return HttpResponse("Metrics are served to loopback and private addresses only, or with "
                        "CERTIFAI_METRICS_TOKEN set, to Authorization: Bearer <token>.\n", status=403,
                        content_type="text/plain")


def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CertifaiCollector())
    try:
        body = generate_latest(registry)
    except Exception as exc:  # noqa: BLE001 - the database is down: say so, fast
        logger.warning("metrics: unavailable: %s", exc)
        return HttpResponse(f"metrics unavailable: {type(exc).__name__}\n", status=503, content_type="text/plain")
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
