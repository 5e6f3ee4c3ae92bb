"""Rows for the web tests, made the way the app makes them (trackers through save_tracker, so tokens are encrypted)."""

from __future__ import annotations

import hashlib
import itertools

from django.utils import timezone

from findings.models import SEVERITY_RANK, Finding, Repository, Scan
from issues.models import TrackerIssue
from issues.services import issue_content
from trackers.services import save_tracker

CANARY_TOKEN = "ghp_CANARY-never-render-me-7f3a9c"  # must never appear in any page

_seq = itertools.count(1)


def repository(name: str | None = None, **fields) -> Repository:
    name = name or f"acme/web-{next(_seq)}"
    fields.setdefault("url", f"https://github.com/{name}")
    return Repository.objects.create(name=name, **fields)


def scan(repo: Repository, status: str = Scan.Status.COMPLETED, **fields) -> Scan:
    fields.setdefault("tool", "Bandit")
    fields.setdefault("format", "bandit")
    fields.setdefault("file_name", "bandit.json")
    fields.setdefault("counts", {"new": 1, "unchanged": 0, "reappeared": 0, "resolved": 0, "total": 1})
    if status != Scan.Status.PENDING:
        fields.setdefault("completed_at", timezone.now())
    return Scan.objects.create(repository=repo, status=status, **fields)


def finding(repo: Repository, severity: str = "high", seen_in: list[Scan] | None = None, **fields) -> Finding:
    n = next(_seq)
    fields.setdefault("rule_id", f"B{100 + n}")
    fields.setdefault("title", f"Finding number {n}")
    fields.setdefault("file_path", f"app/module_{n}.py")
    fields.setdefault("start_line", n)
    fields.setdefault("tool", "Bandit")
    fields.setdefault("description", "Something unsafe happens here.")
    scans = seen_in or []
    if scans:
        fields.setdefault("first_scan", scans[0])
        fields.setdefault("last_scan", scans[-1])
    made = Finding.objects.create(
        repository=repo, fingerprint=hashlib.sha256(f"{repo.pk}:{n}".encode()).hexdigest(), severity=severity,
        severity_rank=SEVERITY_RANK[severity], **fields,
    )
    return made


def tracker(repo: Repository, type: str = "github", token: str = CANARY_TOKEN, **fields):
    data = {"type": type, "token": token}
    if type in ("github", "gitea"):
        data["repository"] = fields.pop("repository", "acme/app")
    if type in ("gitea", "jira", "gitlab"):
        data["instance_url"] = fields.pop("instance_url", "https://tracker.example.com")
    if type == "gitlab":
        data["project_id"] = fields.pop("project_id", "42")
    if type == "jira":
        data["project_key"] = fields.pop("project_key", "SEC")
        data["email"] = fields.pop("email", "bot@example.com")
    data.update(fields)
    return save_tracker(repo, data)


def issue(finding_: Finding, sync: str = TrackerIssue.Sync.SYNCED, **fields) -> TrackerIssue:
    config = getattr(finding_.repository, "tracker", None)
    tracker_type = fields.pop("tracker", config.type if config else "github")
    if sync == TrackerIssue.Sync.SYNCED:
        n = next(_seq)
        fields.setdefault("external_id", str(n))
        fields.setdefault("title", f"[HIGH] {finding_.title}")
        fields.setdefault("url", f"https://github.com/acme/app/issues/{n}")
        fields.setdefault("status", "open")
        fields.setdefault("state", TrackerIssue.State.OPEN)
        fields.setdefault("created", timezone.now())
    else:
        fields.setdefault("pending_action", TrackerIssue.Action.CREATE)
        fields.setdefault("title", issue_content(finding_).title)  # what the claim gives it
    return TrackerIssue.objects.create(
        repository=finding_.repository, tracker_config=config, tracker=tracker_type, fingerprint=finding_.fingerprint,
        finding=finding_, sync_state=sync, **fields,
    )
