"""The issues table (django-tables2)."""

from __future__ import annotations

import django_tables2 as tables
from django.db.models import F

from findings.tables import TABLE_TEMPLATE

from .models import TrackerIssue


class IssueTable(tables.Table):
    tracker = tables.TemplateColumn(template_name="issues/_tracker_cell.html", verbose_name="Tracker")
    external_id = tables.Column(verbose_name="External ID", empty_values=(), attrs={"td": {"class": "text-nowrap"}})
    title = tables.TemplateColumn(template_name="issues/_title_cell.html", verbose_name="Title",
                                  attrs={"td": {"class": "issue-title"}})
    repository = tables.TemplateColumn(
        template_code='<a href="{% url "repository-detail" record.repository_id %}">{{ record.repository.name }}</a>',
        order_by=("repository__name", "-id"), verbose_name="Repository",
    )
    status = tables.TemplateColumn(template_name="issues/_status_cell.html", verbose_name="Status",
                                   order_by=("status", "sync_state"))
    created = tables.DateTimeColumn(verbose_name="Created", format="Y-m-d H:i")
    url = tables.TemplateColumn(template_name="issues/_link_cell.html", verbose_name="Link")
    sync_state = tables.TemplateColumn(template_name="issues/_sync_cell.html", verbose_name="Sync")

    class Meta:
        model = TrackerIssue
        fields = ("tracker", "external_id", "title", "repository", "status", "created", "url", "sync_state")
        template_name = TABLE_TEMPLATE
        attrs = {"class": "table table-hover align-middle mb-0"}
        row_attrs = {"id": lambda record: f"issue-{record.pk}"}
        empty_text = "No issues match these filters."

    def render_external_id(self, value):
        return value or "—"

    def order_created(self, queryset, is_descending):
        created = F("created").desc(nulls_last=True) if is_descending else F("created").asc(nulls_last=True)
        return queryset.order_by(created, "-id"), True

    def order_title(self, queryset, is_descending):
        title = F("title").desc() if is_descending else F("title").asc()
        return queryset.order_by(title, "-id"), True
