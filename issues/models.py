from __future__ import annotations

from django.db import models
from django.db.models import Q

from findings.models import Finding, Repository, Scan
from trackers.models import TrackerConfig, TrackerType


class TrackerIssue(models.Model):
    """The tracker issue Certifai filed (or is filing) for one fingerprint of one repository.

    The row is claimed (inserted, unique per repository and fingerprint) before the tracker is called,
    so two workers can never both create an issue for the same finding.
    """

    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class Sync(models.TextChoices):
        SYNCED = "synced", "Synced"
        PENDING = "pending", "Pending"
        FAILED = "failed", "Failed"

    class Action(models.TextChoices):
        NONE = "", "Nothing"
        CREATE = "create", "Create"
        REOPEN = "reopen", "Reopen"
        CLOSE = "close", "Close"
        MOVE = "move", "Note moved code"

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tracker_issues")
    tracker_config = models.ForeignKey(TrackerConfig, on_delete=models.SET_NULL, null=True, related_name="issues")
    tracker = models.CharField(max_length=20, choices=TrackerType.choices)
    fingerprint = models.CharField(max_length=64)
    # The finding this issue tracks now (moved code hands the issue on to the finding at the new line).
    finding = models.OneToOneField(
        Finding, on_delete=models.SET_NULL, null=True, blank=True, related_name="tracker_issue"
    )

    external_id = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=500, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    status = models.CharField(max_length=100, blank=True, help_text="the tracker's own status text")
    state = models.CharField(max_length=10, choices=State.choices, blank=True)
    accepted_risk = models.BooleanField(default=False)
    created = models.DateTimeField(null=True, blank=True, help_text="when the tracker created it")
    last_synced = models.DateTimeField(null=True, blank=True)

    sync_state = models.CharField(max_length=10, choices=Sync.choices, default=Sync.PENDING)
    pending_action = models.CharField(max_length=10, choices=Action.choices, blank=True, default="")
    pending_comment = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # When the current pending action was first tried: a lookup after an unknown outcome searches from here.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the row until then; a row whose lease ran out (worker killed) is taken over.
    lease_until = models.DateTimeField(null=True, blank=True)
    # The scan whose pipeline asked for the pending (or last) action, for its counts.
    action_scan = models.ForeignKey(Scan, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["repository", "fingerprint"], name="issue_unique_fingerprint"),
            models.UniqueConstraint(
                fields=["repository", "tracker", "external_id"],
                condition=~Q(external_id=""),
                name="issue_unique_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["sync_state", "next_attempt_at"], name="issue_sync_due"),
            models.Index(fields=["repository", "state"], name="issue_repo_state"),
            models.Index(fields=["tracker", "state"], name="issue_tracker_state"),
            # The issues list's "newest first" (created DESC NULLS LAST, -id) has an index made by
            # migrations/0002_issue_list_indexes.py: SQLite can't declare NULLS LAST in an index.
        ]

    def __str__(self) -> str:
        return f"{self.get_tracker_display()} {self.external_id or '(pending)'}"


class IssueEvent(models.Model):
    """What Certifai did to a tracker issue and why: the audit trail, and the source of scan counts."""

    issue = models.ForeignKey(TrackerIssue, on_delete=models.CASCADE, related_name="events")
    scan = models.ForeignKey(Scan, on_delete=models.SET_NULL, null=True, blank=True, related_name="issue_events")
    action = models.CharField(max_length=10, choices=TrackerIssue.Action.choices)
    ok = models.BooleanField()
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["scan", "action", "ok"], name="issue_event_scan")]

    def __str__(self) -> str:
        return f"{self.action} {'ok' if self.ok else 'failed'} for {self.issue_id}"
