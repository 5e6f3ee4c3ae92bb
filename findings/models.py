from __future__ import annotations

from django.db import models

from teams.models import Team, default_team_id


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    INFO = "info", "Info"


# Lower is more severe; stored on findings so "at or above a threshold" and sorting are index scans.
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


class Repository(models.Model):
    name = models.CharField(max_length=200, unique=True)
    # The team that owns it: its members see it, and act on it as their role allows (teams.selectors).
    # Created without one (command line, scripts), it goes to the team "Default".
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="repositories", default=default_team_id)
    url = models.URLField(blank=True, help_text="Web address of the source, used to link files and lines.")
    default_branch = models.CharField(max_length=200, blank=True, default="main")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "repositories"

    def __str__(self) -> str:
        return self.name


class Scan(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="scans")
    tool = models.CharField(max_length=200, blank=True)
    format = models.CharField(max_length=20, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # new, unchanged, reappeared, resolved, total; the pipeline adds issues_created, _reopened, ...
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # What the file itself says went wrong in the scanner (incomplete run, tool errors): shown, not fatal.
    warnings = models.JSONField(default=list, blank=True)
    # False when the scanner did not finish: then absent findings are not taken as fixed.
    complete = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["repository", "-id"], name="scan_repo_recent")]

    def __str__(self) -> str:
        return f"Scan {self.pk} of {self.repository_id} ({self.tool or self.format})"


class Finding(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    # No index of its own: the unique (repository, fingerprint) and the composite indexes start with it.
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="findings", db_index=False)
    fingerprint = models.CharField(max_length=64)
    rule_id = models.CharField(max_length=500)
    title = models.CharField(max_length=500, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    severity_rank = models.PositiveSmallIntegerField()
    description = models.TextField(blank=True)
    file_path = models.CharField(max_length=1000, blank=True)
    start_line = models.PositiveIntegerField(null=True, blank=True)
    end_line = models.PositiveIntegerField(null=True, blank=True)
    tool = models.CharField(max_length=200)
    snippet = models.TextField(blank=True)
    partial_fingerprints = models.JSONField(default=dict, blank=True)
    help_uri = models.CharField(max_length=1000, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolved_at = models.DateTimeField(null=True, blank=True)
    first_scan = models.ForeignKey(Scan, on_delete=models.SET_NULL, null=True, related_name="+")
    # Rewritten by every scan that sees the finding: unindexed, so those updates stay heap-only (HOT).
    last_scan = models.ForeignKey(Scan, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False)
    # The scans that changed this finding's state last: what the pipeline acts on.
    reappeared_scan = models.ForeignKey(Scan, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    resolved_scan = models.ForeignKey(Scan, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["severity_rank", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["repository", "fingerprint"], name="finding_unique_fingerprint"),
        ]
        indexes = [
            models.Index(fields=["repository", "status", "severity_rank"], name="finding_repo_status_sev"),
            models.Index(fields=["repository", "tool", "status"], name="finding_repo_tool_status"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} at {self.location}"

    @property
    def location(self) -> str:
        if not self.file_path:
            return "(no file)"
        return f"{self.file_path}:{self.start_line}" if self.start_line else self.file_path

    @property
    def source_url(self) -> str:
        """Link to the file and line in the repository's web UI, when its URL is known."""
        repo = self.repository
        if not repo.url or not self.file_path:
            return ""
        base = repo.url.rstrip("/")
        branch = repo.default_branch or "main"
        anchor = f"#L{self.start_line}" if self.start_line else ""
        # GitHub, Gitea and GitLab (which redirects /blob/) all accept this form.
        return f"{base}/blob/{branch}/{self.file_path}{anchor}"


class FindingChange(models.Model):
    """A scan that resolved or reopened a finding: the finding's history, one row per change of state.

    The scan that found it first and the scan that saw it last are on the finding itself, so a scan that only sees
    a finding again writes nothing here: a 100,000-result scan run on every push would otherwise add 100,000 rows
    each time.
    """

    class Kind(models.TextChoices):
        RESOLVED = "resolved", "Resolved"
        REAPPEARED = "reappeared", "Reappeared"

    # No index of its own: the unique (finding, scan) index starts with it.
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="changes", db_index=False)
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["finding", "scan"], name="finding_change_once")]

    def __str__(self) -> str:
        return f"finding {self.finding_id} {self.kind} in scan {self.scan_id}"
