from __future__ import annotations

from django.conf import settings
from django.db import models

from findings.models import Repository, Severity


class TrackerType(models.TextChoices):
    GITHUB = "github", "GitHub"
    GITLAB = "gitlab", "GitLab"
    GITEA = "gitea", "Gitea"
    JIRA = "jira", "Jira"


class ReopenPolicy(models.TextChoices):
    ALWAYS = "always", "Always reopen"
    UNLESS_ACCEPTED = "unless_accepted", "Unless closed as accepted risk (won't fix / not planned)"


class TrackerConfig(models.Model):
    """One repository's tracker. Which fields matter depends on `type` (see FIELDS_BY_TYPE)."""

    repository = models.OneToOneField(Repository, on_delete=models.CASCADE, related_name="tracker")
    type = models.CharField(max_length=20, choices=TrackerType.choices)
    repo_path = models.CharField("repository", max_length=300, blank=True, help_text='GitHub/Gitea "owner/name"')
    project_id = models.CharField(max_length=300, blank=True, help_text='GitLab project id or "group/project"')
    project_key = models.CharField(max_length=50, blank=True, help_text="Jira project key")
    instance_url = models.URLField(max_length=500, blank=True)
    api_url = models.URLField(max_length=500, blank=True)
    email = models.CharField(max_length=254, blank=True)
    issue_type = models.CharField(max_length=100, blank=True, default="Bug")
    token_encrypted = models.TextField(blank=True, editable=False)
    # Secret the tracker signs its webhook deliveries with (generated; shown to admins to paste in the tracker).
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)

    min_severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.LOW)
    labels = models.JSONField(default=list, blank=True)
    auto_close = models.BooleanField(default=True)
    reopen_policy = models.CharField(max_length=20, choices=ReopenPolicy.choices, default=ReopenPolicy.UNLESS_ACCEPTED)

    # Set when the tracker rejected our credentials: sync stops until the settings change.
    sync_paused = models.BooleanField(default=False)
    sync_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.get_type_display()} for {self.repository_id}"

    @property
    def has_token(self) -> bool:
        return bool(self.token_encrypted)


# The API/form field names per type (CONTRACT.md), and which are required.
FIELDS_BY_TYPE: dict[str, dict[str, bool]] = {
    "github": {"repository": True, "token": True, "api_url": False},
    "gitlab": {"project_id": True, "instance_url": False, "token": True},
    "gitea": {"repository": True, "instance_url": True, "token": True},
    "jira": {"project_key": True, "instance_url": True, "email": False, "token": True, "issue_type": False},
}
DEFAULT_URLS = {"github": ("api_url", "https://api.github.com"), "gitlab": ("instance_url", "https://gitlab.com")}


class RateBucket(models.Model):
    """Shared pacing state of one tracker account (see trackers/pacing.py), so every worker obeys one limit."""

    key = models.CharField(max_length=200, unique=True)
    # rule name -> times (epoch seconds) of the calls still inside that rule's window
    calls = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.key


class SyncSlot(models.Model):
    """One of the few syncs that may talk to one tracker host at once (CERTIFAI_TRACKER_CONCURRENCY), so a slow or
    failing tracker holds at most that many workers and the other trackers' work goes on (see trackers/pacing.py)."""

    host = models.CharField(max_length=300)
    number = models.PositiveSmallIntegerField()
    holder = models.CharField(max_length=32, blank=True)
    # Taken until then; a worker killed mid-sync frees its slot when this passes.
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "number"], name="sync_slot_unique")]

    def __str__(self) -> str:
        return f"{self.host} #{self.number}"


class TrackerChange(models.Model):
    """Who changed a repository's tracker settings, when, and which fields (never a token's value)."""

    class Action(models.TextChoices):
        CREATED = "created", "Tracker configured"
        UPDATED = "updated", "Tracker settings changed"
        DELETED = "deleted", "Tracker removed"

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tracker_changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    # field -> [before, after]; the token as "(changed)", never its value.
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["repository", "-id"], name="tracker_change_repo")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on {self.repository_id}"
