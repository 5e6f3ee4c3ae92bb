"""Reads for tracker issues and the pages that show them (issues list, finding detail, dashboard)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from findings.models import SEVERITY_RANK, Finding, Scan
from trackers.models import TrackerConfig

from .models import TrackerIssue

Sync = TrackerIssue.Sync
State = TrackerIssue.State


def issue_list() -> QuerySet[TrackerIssue]:
    return TrackerIssue.objects.select_related("repository", "finding")


def issue_get(pk: int) -> TrackerIssue:
    return get_object_or_404(issue_list(), pk=pk)


def any_issue() -> bool:
    return TrackerIssue.objects.exists()


def issue_counts_by_tracker() -> list[dict]:
    """Per tracker type: open, closed, pending and failed issues, in one query."""
    rows = (
        TrackerIssue.objects.order_by("tracker").values("tracker").annotate(
            open=Count("id", filter=Q(state=State.OPEN)),
            closed=Count("id", filter=Q(state=State.CLOSED)),
            pending=Count("id", filter=Q(sync_state=Sync.PENDING)),
            failed=Count("id", filter=Q(sync_state=Sync.FAILED)),
            total=Count("id"),
        )
    )
    return list(rows)


def failed_issues(limit: int = 10) -> list[TrackerIssue]:
    return list(issue_list().filter(sync_state=Sync.FAILED).order_by("-updated_at", "-id")[:limit])


def paused_trackers() -> list[TrackerConfig]:
    return list(TrackerConfig.objects.filter(sync_paused=True).select_related("repository").order_by("repository"))


# --- finding detail ------------------------------------------------------------------------------


def finding_detail(pk: int) -> Finding:
    """A finding with its repository, the repository's tracker, its tracker issue and first/last scans, or 404."""
    return get_object_or_404(
        Finding.objects.select_related("repository", "repository__tracker", "tracker_issue", "first_scan",
                                       "last_scan"),
        pk=pk,
    )


def finding_sightings(finding: Finding, limit: int = 50) -> QuerySet[Scan]:
    """The scans the finding appeared in, newest first."""
    return finding.scans.order_by("-id")[:limit]


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


def repository_activity(repository_id: int, limit: int = 30) -> list[ActivityEntry]:
    """The audit trail of a repository: tracker settings changes (who, which fields) and what Certifai did to
    its tracker issues (created, reopened, closed, moved, failed) and why, newest first."""
    from trackers.models import TrackerChange

    from .models import IssueEvent

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
