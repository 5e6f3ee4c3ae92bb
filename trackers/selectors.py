"""Reads for repositories with their tracker configuration (web pages)."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from findings.models import Finding, Repository, Scan
from findings.selectors import repository_list


def _count(queryset) -> Subquery:
    # COUNT(*): an index on (repository, ...) answers it alone (an index-only scan); COUNT(id) reads every row.
    counted = queryset.order_by().values("repository").annotate(n=Count("*")).values("n")
    return Subquery(counted, output_field=IntegerField())


def repository_overview(user) -> QuerySet[Repository]:
    """The user's repositories with their team, tracker, open findings, number of scans and last scan time:
    one query."""
    last_scan = Scan.objects.filter(repository=OuterRef("pk")).order_by("-id")
    return repository_list(user).select_related("tracker").annotate(
        open_findings=_count(Finding.objects.filter(repository=OuterRef("pk"), status=Finding.Status.OPEN)),
        scan_count=_count(Scan.objects.filter(repository=OuterRef("pk"))),
        last_scan_at=Subquery(last_scan.values("created_at")[:1]),
        last_scan_status=Subquery(last_scan.values("status")[:1]),
    )


def repository_with_tracker(user, pk: int) -> Repository:
    """One of the user's repositories with its team and tracker (None when it has none), or 404 (also when it
    is another team's)."""
    return get_object_or_404(repository_list(user).select_related("tracker"), pk=pk)


def tracker_of(repository: Repository):
    """The repository's TrackerConfig or None (no query when select_related("tracker") was used)."""
    return getattr(repository, "tracker", None)
