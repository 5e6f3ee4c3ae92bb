"""The dashboard: open findings by severity, issues per tracker, recent scans and failed syncs."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from findings import selectors as finding_selectors
from issues import selectors as issue_selectors
from teams.models import Role

RECENT_SCANS = 10


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user  # every count and list: the user's teams' repositories only
        context.update(
            nav="dashboard",
            **issue_selectors.dashboard_counts(user),  # severity_counts, open_findings, tracker_counts, as_of
            recent_scans=list(finding_selectors.scan_list(user)[:RECENT_SCANS]),
            paused_trackers=issue_selectors.paused_trackers(user),
            failed_issues=issue_selectors.failed_issues(user),
        )
        # Which of them get a "Fix the settings" link (admin) and a Retry button (editor).
        context["administered_repositories"] = (
            set(finding_selectors.repository_list(user, Role.ADMIN).values_list("pk", flat=True))
            if context["paused_trackers"] else set()
        )
        context["editable_repositories"] = (
            issue_selectors.editable_repository_ids(user) if context["failed_issues"] else set()
        )
        return context
