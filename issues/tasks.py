"""Celery tasks of the pipeline: thin wrappers around services, safe to run twice (acks late)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import current_app, shared_task
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.db.models import Q
from django.utils import timezone

from findings.models import Scan

from . import services
from .models import TrackerIssue

logger = logging.getLogger(__name__)

DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(name="issues.process_completed_scan", autoretry_for=DB_ERRORS, retry_backoff=True, max_retries=10)
def process_completed_scan(scan_id: int) -> None:
    """Scan-completion pipeline: plan the scan's tracker work, then do it."""
    scan = Scan.objects.filter(pk=scan_id, status=Scan.Status.COMPLETED).first()
    if scan is None:
        return
    planned = services.plan_scan(scan)
    Scan.objects.filter(pk=scan_id).update(counts={**scan.counts, **planned, "planned": True})
    if planned:
        _sync(scan.repository_id)
        services.update_scan_counts(scan_id)


@shared_task(name="issues.sync_repository", autoretry_for=DB_ERRORS, retry_backoff=True, max_retries=10)
def sync_repository(repository_id: int) -> None:
    cache.delete(_scheduled_key(repository_id))
    _sync(repository_id)


@shared_task(name="issues.retry_due")
def retry_due() -> None:
    """Periodic: failed rows whose wait is over go back in the queue; repositories with due work are synced;
    completed scans whose pipeline never ran (worker lost before planning) are planned."""
    services.retry_failed()
    now = timezone.now()
    due = TrackerIssue.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        sync_state=TrackerIssue.Sync.PENDING, tracker_config__sync_paused=False,
    ).exclude(pending_action="")
    for repository_id in set(due.values_list("repository_id", flat=True)):
        _schedule(repository_id, 0)
    stale = Scan.objects.filter(
        status=Scan.Status.COMPLETED, completed_at__gte=now - timedelta(days=1),
        completed_at__lte=now - timedelta(minutes=5),
    ).exclude(counts__has_key="planned")
    for scan_id in stale.values_list("id", flat=True):
        process_completed_scan.delay(scan_id)


@shared_task(name="issues.refresh_states")
def refresh_states() -> None:
    """Periodic: refresh linked issues' status from the trackers, in batches."""
    from trackers.models import TrackerConfig

    for repository_id in TrackerConfig.objects.filter(sync_paused=False).values_list("repository_id", flat=True):
        refresh_repository.delay(repository_id)


@shared_task(name="issues.refresh_repository")
def refresh_repository(repository_id: int) -> None:
    services.refresh_repository(repository_id)


def _sync(repository_id: int) -> None:
    result = services.sync_repository(repository_id)
    if result.retry_in is not None and not result.paused:
        _schedule(repository_id, result.retry_in)


def _scheduled_key(repository_id: int) -> str:
    return f"certifai:sync-scheduled:{repository_id}"


def _schedule(repository_id: int, countdown: float) -> None:
    if current_app.conf.task_always_eager:
        return  # in-process runs (tests, `sync_issues`) loop themselves; an eager task would recurse
    # One scheduled follow-up per repository is enough: leases keep extra ones harmless, but not free.
    if cache.add(_scheduled_key(repository_id), 1, timeout=max(int(countdown) + 30, 60)):
        # Capped below the Redis visibility timeout; the periodic retry_due picks up anything later.
        sync_repository.apply_async((repository_id,), countdown=min(countdown, 1800))
