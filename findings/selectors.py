"""Reads for repositories, scans and findings, scoped to what the user may see (teams.selectors)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from teams.models import Role
from teams.selectors import scope

from .models import Finding, Repository, Scan, Severity


def repository_list(user: Any, role: str = Role.VIEWER) -> QuerySet[Repository]:
    """The repositories the user has at least `role` on."""
    return scope(Repository.objects.select_related("team"), user, role)


def scan_list(user: Any, repository_id: int | None = None) -> QuerySet[Scan]:
    scans = scope(Scan.objects.select_related("repository"), user, path="repository__team")
    return scans.filter(repository_id=repository_id) if repository_id else scans


def finding_list(user: Any) -> QuerySet[Finding]:
    return scope(Finding.objects.select_related("repository"), user, path="repository__team")


def find_repository(name_or_id: str) -> Repository:
    """A repository by name, else by numeric id (the command line: no user). Raises Repository.DoesNotExist."""
    try:
        return Repository.objects.get(name=name_or_id)
    except Repository.DoesNotExist:
        if name_or_id.isdigit():
            return Repository.objects.get(pk=int(name_or_id))
        raise


def open_severity_counts(user: Any, repository_id: int | None = None) -> dict[str, int]:
    """Open findings the user can see per severity (every severity present, most severe first), in one query."""
    findings = scope(Finding.objects.filter(status=Finding.Status.OPEN), user, path="repository__team")
    if repository_id:
        findings = findings.filter(repository_id=repository_id)
    counts = dict(findings.order_by().values_list("severity").annotate(n=Count("id")))
    return {severity: counts.get(severity, 0) for severity in Severity.values}


def finding_tools(user: Any) -> list[str]:
    """The tools that reported findings the user can see, for a filter's choices."""
    findings = scope(Finding.objects.all(), user, path="repository__team")
    return list(findings.order_by("tool").values_list("tool", flat=True).distinct())
