"""Reads for tracker issues and the pages that show them (issues list, finding detail, dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from findings.models import SEVERITY_RANK, Finding, Scan
from findings.selectors import open_severity_counts, repository_list
from teams.models import Role
from teams.selectors import scope, teams_for
from trackers.models import TrackerConfig

from .models import TrackerIssue

Sync = TrackerIssue.Sync
State = TrackerIssue.State


def _issues(user: Any) -> QuerySet[TrackerIssue]:
    return scope(TrackerIssue.objects.all(), user, path="repository__team")


def issue_list(user: Any) -> QuerySet[TrackerIssue]:
    """The tracker issues of the user's repositories. Their rows carry what the lists show (a pending one its
    planned title): the findings, with their long descriptions, are not joined."""
    return _issues(user).select_related("repository")


def issue_get(user: Any, pk: int) -> TrackerIssue:
    """One of the user's tracker issues, or 404 (also another team's)."""
    return get_object_or_404(issue_list(user), pk=pk)


def editable_repository_ids(user: Any) -> set[int]:
    """The repositories whose issues the user may retry (editor and above): which rows get a Retry button."""
    return set(repository_list(user, Role.EDITOR).values_list("pk", flat=True))


def any_issue(user: Any) -> bool:
    return _issues(user).exists()


def issue_counts_by_tracker(user: Any) -> list[dict]:
    """Per tracker type: open, closed, pending and failed issues of the user's repositories, in one query."""
    rows = (
        _issues(user).order_by("tracker").values("tracker").annotate(
            open=Count("id", filter=Q(state=State.OPEN)),
            closed=Count("id", filter=Q(state=State.CLOSED)),
            pending=Count("id", filter=Q(sync_state=Sync.PENDING)),
            failed=Count("id", filter=Q(sync_state=Sync.FAILED)),
            total=Count("id"),
        )
    )
    return list(rows)


DASHBOARD_CACHE_SECONDS = 30
_DASHBOARD_VERSION = "certifai:dashboard-version"


def dashboard_counts(user: Any) -> dict[str, Any]:
    """Open findings per severity and issues per tracker, as the dashboard shows them.

    Exact counts over hundreds of thousands of rows take about 0.2 s at 500,000 findings: they are kept for
    DASHBOARD_CACHE_SECONDS per set of teams (what the user may see), and a completed scan makes them fresh at
    once (dashboard_changed)."""
    teams = "all" if user.is_superuser else ",".join(map(str, teams_for(user).order_by("pk").values_list(
        "pk", flat=True)))
    key = f"certifai:dashboard:{cache.get_or_set(_DASHBOARD_VERSION, 0, timeout=None)}:{teams}"
    counts = cache.get(key)
    if counts is None:
        severity_counts = open_severity_counts(user)
        counts = {"severity_counts": severity_counts, "open_findings": sum(severity_counts.values()),
                  "tracker_counts": issue_counts_by_tracker(user), "as_of": timezone.now()}
        cache.set(key, counts, DASHBOARD_CACHE_SECONDS)
    return counts


def dashboard_changed() -> None:
    """A scan completed: every dashboard counts anew."""
    try:
        cache.incr(_DASHBOARD_VERSION)
    except ValueError:  # not there (evicted, a fresh cache): any new value starts a new generation
        cache.set(_DASHBOARD_VERSION, int(timezone.now().timestamp()), timeout=None)


def failed_issues(user: Any, limit: int = 10) -> list[TrackerIssue]:
    return list(issue_list(user).filter(sync_state=Sync.FAILED).order_by("-updated_at", "-id")[:limit])


def paused_trackers(user: Any) -> list[TrackerConfig]:
    configs = scope(TrackerConfig.objects.filter(sync_paused=True), user, path="repository__team")
    return list(configs.select_related("repository").order_by("repository"))


# --- finding detail ------------------------------------------------------------------------------


def finding_detail(user: Any, pk: int) -> Finding:
    """One of the user's findings with its repository, the repository's team and tracker, its tracker issue and
    first/last scans, or 404 (also another team's)."""
    return get_object_or_404(
        scope(Finding.objects.all(), user, path="repository__team").select_related(
            "repository__team", "repository__tracker", "tracker_issue", "first_scan", "last_scan"),
        pk=pk,
    )


@dataclass(frozen=True)
class HistoryEntry:
    scan: Scan
    event: str  # "First seen", "Resolved", "Reappeared" or "Last seen"


def finding_history(finding: Finding, limit: int = 50) -> list[HistoryEntry]:
    """What the scans did to the finding, newest first: first seen, each resolve and reopen, and last seen."""
    entries = [HistoryEntry(change.scan, change.get_kind_display())
               for change in finding.changes.select_related("scan").order_by("-id")[:limit]]
    shown = {entry.scan.pk for entry in entries}
    if finding.first_scan is not None and finding.first_scan.pk not in shown:
        entries.append(HistoryEntry(finding.first_scan, "First seen"))
        shown.add(finding.first_scan.pk)
    if finding.last_scan is not None and finding.last_scan.pk not in shown:
        entries.append(HistoryEntry(finding.last_scan, "Last seen"))
    return sorted(entries, key=lambda entry: entry.scan.pk, reverse=True)


@dataclass(frozen=True)
class LinkedIssue:
    """What the finding detail page says about the finding's tracker issue.

    kind: "linked" (filed and in sync), "pending", "failed", or, when there is no issue, "no_tracker",
    "resolved", "below_threshold" or "not_filed".
    """

    kind: str
    issue: TrackerIssue | None
    config: TrackerConfig | None
    threshold: str = ""  # the repository's minimum severity label, for "below_threshold"

    @property
    def can_create(self) -> bool:
        return self.issue is None and self.config is not None

    @property
    def can_retry(self) -> bool:
        return self.issue is not None and self.issue.sync_state != Sync.SYNCED


def linked_issue(finding: Finding) -> LinkedIssue:
    issue: TrackerIssue | None = getattr(finding, "tracker_issue", None)
    config: TrackerConfig | None = getattr(finding.repository, "tracker", None)
    if issue is not None:
        kind = {Sync.SYNCED: "linked", Sync.PENDING: "pending", Sync.FAILED: "failed"}.get(issue.sync_state, "pending")
        return LinkedIssue(kind, issue, config)
    if config is None:
        return LinkedIssue("no_tracker", None, None)
    if finding.status != Finding.Status.OPEN:
        return LinkedIssue("resolved", None, config)
    if finding.severity_rank > SEVERITY_RANK[config.min_severity]:
        return LinkedIssue("below_threshold", None, config, threshold=config.get_min_severity_display())
    return LinkedIssue("not_filed", None, config)


@dataclass(frozen=True)
class ActivityEntry:
    when: object  # datetime
    who: str
    what: str
    detail: str
    url: str = ""


def repository_activity(user: Any, repository_id: int, limit: int = 30) -> list[ActivityEntry]:
    """The audit trail of one of the user's repositories (404 for another team's): tracker settings changes
    (who, which fields) and what Certifai did to its tracker issues (created, reopened, closed, moved, failed)
    and why, newest first."""
    from trackers.models import TrackerChange

    from .models import IssueEvent

    get_object_or_404(repository_list(user), pk=repository_id)

    changes = TrackerChange.objects.filter(repository_id=repository_id).select_related("actor")[:limit]
    events = (
        IssueEvent.objects.filter(issue__repository_id=repository_id)
        .select_related("issue", "scan")
        .order_by("-id")[:limit]
    )
    entries = [
        ActivityEntry(c.created_at, c.actor.get_username() if c.actor else "API or system", c.get_action_display(),
                      ", ".join(sorted(c.changes)) if c.changes else "")
        for c in changes
    ]
    for event in events:
        verb = event.get_action_display() if event.ok else f"{event.get_action_display()} failed"
        why = f"scan {event.scan_id}" if event.scan_id else "requested"
        entries.append(ActivityEntry(event.created_at, "Certifai", f"{verb}: {event.issue.external_id or 'issue'}",
                                     f"{why}. {event.message}", event.issue.url))
    return sorted(entries, key=lambda entry: entry.when, reverse=True)[:limit]
