"""The dashboard: open findings by severity, issues per tracker, recent scans and failed syncs."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from findings import selectors as finding_selectors
from issues import selectors as issue_selectors

RECENT_SCANS = 10


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        severity_counts = finding_selectors.open_severity_counts()
        context.update(
            nav="dashboard",
            severity_counts=severity_counts,
            open_findings=sum(severity_counts.values()),
            tracker_counts=issue_selectors.issue_counts_by_tracker(),
            recent_scans=list(finding_selectors.scan_list()[:RECENT_SCANS]),
            paused_trackers=issue_selectors.paused_trackers(),
            failed_issues=issue_selectors.failed_issues(),
        )
        return context
