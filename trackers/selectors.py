"""Reads for repositories with their tracker configuration (web pages)."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from findings.models import Finding, Repository, Scan


def _count(queryset) -> Subquery:
    counted = queryset.order_by().values("repository").annotate(n=Count("id")).values("n")
    return Subquery(counted, output_field=IntegerField())


def repository_overview() -> QuerySet[Repository]:
    """Every repository with its tracker, open findings, number of scans and last scan time: one query."""
    last_scan = Scan.objects.filter(repository=OuterRef("pk")).order_by("-id")
    return Repository.objects.select_related("tracker").annotate(
        open_findings=_count(Finding.objects.filter(repository=OuterRef("pk"), status=Finding.Status.OPEN)),
        scan_count=_count(Scan.objects.filter(repository=OuterRef("pk"))),
        last_scan_at=Subquery(last_scan.values("created_at")[:1]),
        last_scan_status=Subquery(last_scan.values("status")[:1]),
    )


def repository_with_tracker(pk: int) -> Repository:
    """A repository and its tracker (None when it has none), or 404."""
    return get_object_or_404(Repository.objects.select_related("tracker"), pk=pk)


def tracker_of(repository: Repository):
    """The repository's TrackerConfig or None (no query when select_related("tracker") was used)."""
    return getattr(repository, "tracker", None)
