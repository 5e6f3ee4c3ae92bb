"""Tables of the findings and scans lists (django-tables2)."""

from __future__ import annotations

import django_tables2 as tables
from django.db.models import F

from .models import Finding, Scan

TABLE_TEMPLATE = "tables/table.html"


class FindingTable(tables.Table):
    severity = tables.TemplateColumn(
        template_name="partials/severity_cell.html", order_by=("severity_rank", "-id"), verbose_name="Severity"
    )
    title = tables.TemplateColumn(template_name="findings/_finding_title_cell.html", verbose_name="Finding")
    rule_id = tables.Column(verbose_name="Rule")
    repository = tables.Column(accessor="repository__name", order_by=("repository__name", "-id"),
                               verbose_name="Repository")
    location = tables.Column(empty_values=(), order_by=("file_path", "start_line"), verbose_name="File")
    tool = tables.Column(verbose_name="Tool")
    status = tables.TemplateColumn(template_name="partials/finding_status_cell.html", verbose_name="Status")
    created_at = tables.DateTimeColumn(verbose_name="First seen", format="Y-m-d H:i")

    class Meta:
        model = Finding
        fields = ("severity", "title", "rule_id", "repository", "location", "tool", "status", "created_at")
        template_name = TABLE_TEMPLATE
        attrs = {"class": "table table-hover align-middle mb-0"}
        empty_text = "No findings match these filters."

    def render_location(self, record):
        return record.location


class ScanTable(tables.Table):
    id = tables.Column(verbose_name="Scan")
    repository = tables.TemplateColumn(
        template_code='<a href="{% url "repository-detail" record.repository_id %}">{{ record.repository.name }}</a>',
        order_by=("repository__name", "-id"), verbose_name="Repository",
    )
    tool = tables.Column(empty_values=(), verbose_name="Tool")
    file_name = tables.Column(verbose_name="File")
    status = tables.TemplateColumn(template_name="partials/scan_status_cell.html", verbose_name="Status")
    counts = tables.TemplateColumn(template_name="partials/scan_counts_cell.html", orderable=False,
                                   verbose_name="Counts")
    error = tables.Column(verbose_name="Error", attrs={"td": {"class": "text-break small"}})
    created_at = tables.DateTimeColumn(verbose_name="Uploaded", format="Y-m-d H:i:s")

    class Meta:
        model = Scan
        fields = ("id", "repository", "tool", "file_name", "status", "counts", "error", "created_at")
        template_name = TABLE_TEMPLATE
        attrs = {"class": "table table-hover align-middle mb-0"}
        row_attrs = {"id": lambda record: f"scan-{record.pk}"}
        empty_text = "No scans match these filters."

    def render_id(self, value):
        return f"#{value}"

    def render_tool(self, record):
        return record.tool or record.format or "—"

    def render_error(self, value):
        return value if len(value) <= 300 else value[:299] + "…"

    def order_created_at(self, queryset, is_descending):
        return queryset.order_by(F("created_at").desc() if is_descending else F("created_at").asc(), "-id"), True
