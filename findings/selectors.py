"""Reads for repositories, scans and findings."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from .models import Finding, Repository, Scan, Severity


def repository_list() -> QuerySet[Repository]:
    return Repository.objects.all()


def scan_list(repository_id: int | None = None) -> QuerySet[Scan]:
    scans = Scan.objects.select_related("repository")
    return scans.filter(repository_id=repository_id) if repository_id else scans


def finding_list() -> QuerySet[Finding]:
    return Finding.objects.select_related("repository")


def find_repository(name_or_id: str) -> Repository:
    """A repository by name, else by numeric id. Raises Repository.DoesNotExist."""
    try:
        return Repository.objects.get(name=name_or_id)
    except Repository.DoesNotExist:
        if name_or_id.isdigit():
            return Repository.objects.get(pk=int(name_or_id))
        raise


def open_severity_counts(repository_id: int | None = None) -> dict[str, int]:
    """Open findings per severity (every severity present, most severe first), in one query."""
    findings = Finding.objects.filter(status=Finding.Status.OPEN)
    if repository_id:
        findings = findings.filter(repository_id=repository_id)
    counts = dict(findings.order_by().values_list("severity").annotate(n=Count("id")))
    return {severity: counts.get(severity, 0) for severity in Severity.values}


def finding_tools() -> list[str]:
    """The tools that reported findings, for a filter's choices."""
    return list(Finding.objects.order_by("tool").values_list("tool", flat=True).distinct())
