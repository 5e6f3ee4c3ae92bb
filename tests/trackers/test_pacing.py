"""Pacing: calls per tracker account never exceed a documented limit in ANY window, across workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from trackers import pacing
from trackers.adapters import TrackerSettings
from trackers.models import SyncSlot

pytestmark = pytest.mark.django_db


def simulate(tracker_type: str, kind: str, calls: int, step: float = 0.01) -> list[float]:
    """Ask for `calls` slots as fast as allowed, on a simulated clock; return when each was granted."""
    now, granted = 1_000_000.0, []
    while len(granted) < calls:
        wait = pacing.reserve(tracker_type, "acct", kind, now=now)
        if wait <= 0:
            granted.append(now)
            now += step
        else:
            now += wait
    return granted


def most_in_any_window(times: list[float], period: float) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - period:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_github_creations_stay_within_every_documented_window():
    times = simulate("github", pacing.CREATE, 1100)
    assert most_in_any_window(times, 3600.0) <= 500  # a burst of 500 must not be followed by more in that hour
    assert most_in_any_window(times, 60.0) <= 80
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 1.0 - 1e-9  # writes at least 1 s apart
    # ...and as fast as the limits allow: 1,100 creations need two full hours and a bit, not more.
    assert times[-1] - times[0] < 2 * 3600 + 200


def test_gitlab_and_jira_limits():
    assert most_in_any_window(simulate("gitlab", pacing.CREATE, 150), 60.0) <= 60
    assert most_in_any_window(simulate("jira", pacing.WRITE, 30), 1.0) <= 5


def test_scale_compresses_time(settings):
    settings.CERTIFAI_RATE_SCALE = 60.0
    times = simulate("github", pacing.CREATE, 100, step=0.001)
    assert most_in_any_window(times, 1.0) <= 80  # a "minute" is one second
    assert times[-1] - times[0] < 2.0


def test_accounts_are_separate():
    assert pacing.reserve("github", "one", pacing.CREATE, now=10.0) == 0
    assert pacing.reserve("github", "one", pacing.CREATE, now=10.1) > 0
    assert pacing.reserve("github", "two", pacing.CREATE, now=10.1) == 0


# --- concurrency slots: a slow tracker holds at most CERTIFAI_TRACKER_CONCURRENCY workers -----------------------


def _tracker(url: str, token: str = "t0k3n") -> TrackerSettings:
    return TrackerSettings(type="gitlab", token=token, project_id="1", instance_url=url)


def test_at_most_the_configured_syncs_hold_one_tracker_host(settings):
    settings.CERTIFAI_TRACKER_CONCURRENCY = 2
    slow, other = _tracker("https://slow.example.com"), _tracker("https://gitlab.example.com")
    same_host = _tracker("https://slow.example.com", "other")
    with pacing.sync_slot(slow, 60) as first, pacing.sync_slot(same_host, 60) as second:
        assert first and second  # two accounts on one host: the host is what is slow
        with pacing.sync_slot(slow, 60) as third:
            assert not third
        with pacing.sync_slot(other, 60) as elsewhere:
            assert elsewhere  # another tracker is not held up
    with pacing.sync_slot(slow, 60) as again:
        assert again  # released on the way out


def test_a_slot_whose_holder_died_frees_itself(settings):
    settings.CERTIFAI_TRACKER_CONCURRENCY = 1
    slow = _tracker("https://slow.example.com")
    with pacing.sync_slot(slow, 60):
        SyncSlot.objects.update(lease_until=timezone.now() - timedelta(seconds=1))  # as if its worker was killed
        with pacing.sync_slot(slow, 60) as taken_over:
            assert taken_over


def test_a_slot_is_released_when_the_sync_fails(settings):
    settings.CERTIFAI_TRACKER_CONCURRENCY = 1
    slow = _tracker("https://slow.example.com")
    with pytest.raises(RuntimeError), pacing.sync_slot(slow, 60):
        raise RuntimeError("boom")
    with pacing.sync_slot(slow, 60) as taken:
        assert taken
