"""Web pages of the issues app: the issues list with retry, and the finding detail page (it shows the
finding's tracker issue, so it lives here: issues may import findings and trackers, not the other way)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from findings.tables import BoundedCountPaginator
from teams import selectors as team_selectors
from teams.mixins import TeamAccessMixin
from teams.models import Role
from trackers.adapters import TrackerConfigError

from . import selectors, services, tasks
from .filters import IssueFilter
from .tables import IssueTable

PAGE_SIZE = 25


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


class IssueListView(TeamAccessMixin, SingleTableMixin, FilterView):
    template_name = "issues/issue_list.html"
    table_class = IssueTable
    filterset_class = IssueFilter
    # Counts at most 1,000 rows: beyond that "more than 1,000", pages fetched lazily.
    table_pagination = {"per_page": PAGE_SIZE, "paginator_class": BoundedCountPaginator}
    extra_context = {"nav": "issues"}

    def get_queryset(self):
        return selectors.issue_list(self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        table = context["table"]
        # The empty state explains how to get issues only when there are none at all (not just none matching).
        context["has_issues"] = bool(table.paginator.count) or selectors.any_issue(self.request.user)
        context["editable_repositories"] = selectors.editable_repository_ids(self.request.user)
        return context


class IssueRetryView(TeamAccessMixin, View):
    """POST: queue a pending or failed issue again now (editor). htmx gets the updated table row."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        issue = selectors.issue_get(request.user, pk)
        self.require(issue.repository, Role.EDITOR)
        services.retry_issue(issue)
        tasks.sync_repository.delay(issue.repository_id)
        if _is_htmx(request):
            table = IssueTable([selectors.issue_get(request.user, pk)], orderable=False)
            context = {"table": table, "editable_repositories": {issue.repository_id}}
            return render(request, "issues/_issue_row.html", context)
        messages.success(request, f"Retrying {issue.get_tracker_display()} issue "
                                  f"{issue.external_id or 'for ' + (issue.title or 'this finding')}.")
        return redirect(_next_url(request, reverse("issue-list")))


class FindingDetailView(TeamAccessMixin, View):
    template_name = "issues/finding_detail.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        finding = selectors.finding_detail(request.user, pk)
        context = {
            "nav": "findings",
            "finding": finding,
            "may": team_selectors.permissions_of(request.user, finding.repository),
            "linked": selectors.linked_issue(finding),
            "history": selectors.finding_history(finding),
        }
        return render(request, self.template_name, context)


class FindingIssueCreateView(TeamAccessMixin, View):
    """POST: file an issue for this finding now, whatever the threshold (editor)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        finding = selectors.finding_detail(request.user, pk)
        self.require(finding.repository, Role.EDITOR)
        try:
            services.request_issue(finding)
        except TrackerConfigError as exc:
            messages.error(request, f"No issue created: {exc}.")
        else:
            tasks.sync_repository.delay(finding.repository_id)
            messages.success(request, "Issue requested: Certifai is filing it in the tracker.")
        return redirect("finding-detail", pk=pk)


class RepositoryActivityView(TeamAccessMixin, View):
    """The repository's audit trail (tracker settings changes and issue actions), loaded into its page."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        entries = selectors.repository_activity(request.user, pk)
        template = "issues/_activity.html" if _is_htmx(request) else "issues/activity.html"
        return render(request, template, {"entries": entries, "repository_id": pk, "nav": "repositories"})
