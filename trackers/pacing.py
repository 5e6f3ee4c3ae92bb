"""Pace calls per tracker account within its documented limits, across all workers.

Each limit is a sliding-window rule: at most `count` calls in ANY `period` seconds, as the trackers count
(GitHub's "500 an hour" holds for every hour, so a rate-with-burst algorithm such as GCRA, which lets a
burst of 500 be followed by one call every 7.2 s, would overshoot it). The state of an account is the
times of its recent calls, per rule, in one database row (RateBucket) locked for the moment of the
decision, so it holds for any number of workers on PostgreSQL (and SQLite, whose writers are serialised).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .adapters import TrackerSettings
from .models import RateBucket, SyncSlot

CREATE, WRITE, READ = "create", "write", "read"


@dataclass(frozen=True)
class Rule:
    name: str
    count: int
    period: float  # seconds
    applies_to: frozenset[str]


def _rules(*rules: tuple[str, int, float, set[str]]) -> tuple[Rule, ...]:
    return tuple(Rule(name, count, period, frozenset(kinds)) for name, count, period, kinds in rules)


# Documented limits (shared/TRACKERS.md, checked against each tracker's docs), with a margin where
# the tracker counts differently from us.
LIMITS: dict[str, tuple[Rule, ...]] = {
    # GitHub: content creation at most 80/minute and 500/hour; writes in series, at least 1 s apart.
    "github": _rules(
        ("create-minute", 80, 60.0, {CREATE}),
        ("create-hour", 500, 3600.0, {CREATE}),
        ("write-spacing", 1, 1.0, {CREATE, WRITE}),
        ("requests-hour", 5000, 3600.0, {CREATE, WRITE, READ}),
    ),
    # gitlab.com: issue creation 200/minute, notes 60/minute (we count every create as both), API 2,000/minute.
    "gitlab": _rules(
        ("create-minute", 60, 60.0, {CREATE}),
        ("requests-minute", 2000, 60.0, {CREATE, WRITE, READ}),
    ),
    # Gitea has no API rate limit of its own; stay gentle with self-hosted instances.
    "gitea": _rules(("requests-second", 10, 1.0, {CREATE, WRITE, READ})),
    # Jira Cloud limits are cost based and undisclosed; it answers 429 with Retry-After. Stay modest.
    "jira": _rules(("writes-second", 5, 1.0, {CREATE, WRITE}), ("requests-second", 20, 1.0, {CREATE, WRITE, READ})),
}


def host_key(tracker: TrackerSettings) -> str:
    url = tracker.api_url or tracker.instance_url or tracker.type
    return f"{tracker.type}:{urlsplit(url).netloc or url}"


def account_key(tracker: TrackerSettings) -> str:
    """One bucket per tracker host and token: the tracker counts per account."""
    token = hashlib.sha256(tracker.token.encode()).hexdigest()[:16]
    return f"{host_key(tracker)}:{token}"


def _scale() -> float:
    # Benchmarks and tests compress time: 60 makes "per minute" limits "per second".
    return float(getattr(settings, "CERTIFAI_RATE_SCALE", 1.0))


def reserve(tracker_type: str, key: str, kind: str, now: float | None = None) -> float:
    """Take a slot for one call of `kind` now, or return how many seconds to wait before asking again."""
    rules = [rule for rule in LIMITS.get(tracker_type, ()) if kind in rule.applies_to]
    if not rules:
        return 0.0
    scale = _scale()
    with transaction.atomic():
        bucket, _ = RateBucket.objects.select_for_update().get_or_create(key=key)
        now = time.time() if now is None else now
        wait = 0.0
        recent: dict[str, list[float]] = {}
        for rule in rules:
            period = rule.period / scale
            calls = [t for t in bucket.calls.get(rule.name, []) if t > now - period]
            recent[rule.name] = calls
            if len(calls) >= rule.count:
                # Free again when the oldest call that still counts leaves the window.
                wait = max(wait, calls[len(calls) - rule.count] + period - now)
        if wait > 0:
            return wait
        for rule in rules:
            bucket.calls[rule.name] = [*recent[rule.name], now]
        bucket.save(update_fields=["calls"])
    return 0.0


def acquire(tracker: TrackerSettings, kind: str, max_sleep: float = 5.0) -> float:
    """Wait for a slot, sleeping at most `max_sleep` seconds in all; returns the wait still needed
    (0 when the slot is taken). A caller given a positive number should come back later, not sleep."""
    key = account_key(tracker)
    deadline = time.monotonic() + max_sleep
    while True:
        wait = reserve(tracker.type, key, kind)
        if wait <= 0:
            return 0.0
        if time.monotonic() + wait > deadline:
            return wait
        time.sleep(wait)


@contextmanager
def sync_slot(tracker: TrackerSettings, hold_seconds: float) -> Iterator[bool]:
    """Hold one of the CERTIFAI_TRACKER_CONCURRENCY slots of the tracker's host for the block: yields False at once
    when all are taken (the caller should come back later, not wait). The claim is a conditional UPDATE, so two
    workers can't take one slot; a slot whose holder died frees itself after `hold_seconds`."""
    host = host_key(tracker)[:300]
    limit = max(1, settings.CERTIFAI_TRACKER_CONCURRENCY)
    SyncSlot.objects.bulk_create([SyncSlot(host=host, number=n) for n in range(limit)], ignore_conflicts=True)
    holder = secrets.token_hex(8)
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    taken = False
    for number in range(limit):
        if SyncSlot.objects.filter(free, host=host, number=number).update(
                holder=holder, lease_until=now + timedelta(seconds=hold_seconds)):
            taken = True
            break
    try:
        yield taken
    finally:
        if taken:
            SyncSlot.objects.filter(host=host, holder=holder).update(holder="", lease_until=None)
