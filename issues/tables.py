"""The issues table (django-tables2)."""

from __future__ import annotations

import django_tables2 as tables
from django.db.models import F
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from findings.tables import TABLE_TEMPLATE, FastTable, plain, when

from .models import TrackerIssue

# The tracker badge (also partials/tracker_badge.html, through issues/templatetags), in Python like the cells below:
# a template rendered per cell cost more than the page's SQL.
TRACKER_BADGES = {
    "github": ("tracker-github", "bi-github", "GitHub"),
    "gitlab": ("tracker-gitlab", "bi-gitlab", "GitLab"),
    "gitea": ("tracker-gitea", "bi-git", "Gitea"),
    "jira": ("tracker-jira", "bi-kanban", "Jira"),
}
# Constant markup, no value in it.
DASH = mark_safe('<span class="text-body-secondary">—</span>')  # noqa: S308  # nosec B308
SYNCED = mark_safe(  # noqa: S308  # nosec B308
    '<span class="text-success-emphasis small text-nowrap"><i class="bi bi-check-circle" aria-hidden="true"></i> '
    'Synced</span>')
ISSUE_OPEN = mark_safe('<span class="badge status-open">Open</span>')  # noqa: S308  # nosec B308
ISSUE_CLOSED = mark_safe('<span class="badge status-closed">Closed</span>')  # noqa: S308  # nosec B308
NOT_FILED = mark_safe('<span class="text-body-secondary small">Not filed yet</span>')  # noqa: S308  # nosec B308


def tracker_badge(tracker: str) -> str:
    if tracker in TRACKER_BADGES:
        css, icon, label = TRACKER_BADGES[tracker]
        return format_html('<span class="badge tracker-badge {}"><i class="bi {}" aria-hidden="true"></i> {}</span>',
                           css, icon, label)
    return format_html('<span class="badge text-bg-secondary">{}</span>', tracker) if tracker else ""


def issue_status(issue: TrackerIssue) -> str:
    """An issue's status badge (also issues/_status.html, through issues/templatetags)."""
    status = issue.status
    lowered = status.lower()
    if status:
        if lowered in ("open", "opened"):
            html = ISSUE_OPEN
        elif lowered == "closed":
            html = ISSUE_CLOSED
        elif issue.state == TrackerIssue.State.CLOSED:
            html = format_html('<span class="badge status-closed">{}</span>', status)
        else:
            html = format_html('<span class="badge status-custom">{}</span>', status)
    elif issue.state:
        css = "status-open" if issue.state == TrackerIssue.State.OPEN else "status-closed"
        html = format_html('<span class="badge {}">{}</span>', css, issue.get_state_display())
    else:
        html = NOT_FILED
    if issue.accepted_risk:
        html = format_html('{} <span class="small text-body-secondary">(accepted risk)</span>', html)
    return html


class IssueTable(FastTable):
    tracker = tables.Column(empty_values=(), verbose_name="Tracker")
    external_id = tables.Column(verbose_name="External ID", empty_values=(), attrs={"td": {"class": "text-nowrap"}})
    title = tables.Column(empty_values=(), verbose_name="Title", attrs={"td": {"class": "issue-title"}})
    repository = tables.Column(empty_values=(), order_by=("repository__name", "-id"), verbose_name="Repository")
    status = tables.Column(empty_values=(), verbose_name="Status", order_by=("status", "sync_state"))
    created = tables.DateTimeColumn(verbose_name="Created", format="Y-m-d H:i")
    url = tables.Column(empty_values=(), verbose_name="Link")
    # Pending and failed rows carry the retry form (CSRF token, htmx): those keep their template.
    sync_state = tables.TemplateColumn(template_name="issues/_sync_cell.html", verbose_name="Sync")
    direct_columns = frozenset({"tracker", "external_id", "title", "repository", "status", "created", "url"})

    class Meta:
        model = TrackerIssue
        fields = ("tracker", "external_id", "title", "repository", "status", "created", "url", "sync_state")
        template_name = TABLE_TEMPLATE
        attrs = {"class": "table table-hover align-middle mb-0"}
        row_attrs = {"id": lambda record: f"issue-{record.pk}"}
        empty_text = "No issues match these filters."

    def render_external_id(self, record):
        return plain(record.external_id)

    def render_created(self, record):
        return when(record.created)

    def render_tracker(self, record):
        return tracker_badge(record.tracker)

    def render_title(self, record):
        # Not filed yet: the title it will be filed under (issues.services.planned_title_sql), marked as such.
        if not record.title:
            return DASH
        if record.finding_id:
            link = format_html('<a href="{}">{}</a>', reverse("finding-detail", args=[record.finding_id]),
                               record.title)
        else:
            link = record.title
        if record.external_id:
            return link
        return format_html('{} <span class="small text-body-secondary">(not filed yet)</span>', link)

    def render_repository(self, record):
        return format_html('<a href="{}">{}</a>', reverse("repository-detail", args=[record.repository_id]),
                           record.repository.name)

    def render_status(self, record):
        return issue_status(record)

    def render_url(self, record):
        if not record.url:
            return DASH
        return format_html('<a href="{}" target="_blank" rel="noopener noreferrer" class="text-nowrap">Open in {}'
                           '<span class="visually-hidden"> (issue {}, opens in a new tab)</span> '
                           '<i class="bi bi-box-arrow-up-right" aria-hidden="true"></i></a>',
                           record.url, record.get_tracker_display(), record.external_id)

    def render_sync_state(self, record, bound_column, bound_row, value):
        if record.sync_state == TrackerIssue.Sync.SYNCED:
            return SYNCED
        return bound_column.column.render(record=record, table=self, value=value, bound_column=bound_column,
                                          bound_row=bound_row)

    def order_created(self, queryset, is_descending):
        created = F("created").desc(nulls_last=True) if is_descending else F("created").asc(nulls_last=True)
        return queryset.order_by(created, "-id"), True

    def order_title(self, queryset, is_descending):
        title = F("title").desc() if is_descending else F("title").asc()
        return queryset.order_by(title, "-id"), True
