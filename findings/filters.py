"""Filters of the findings and scans lists (django-filter)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from . import selectors
from .models import SEVERITY_RANK, Finding, Scan, Severity
from .tables import safe_join

END_OPTGROUP = mark_safe("\n  </optgroup>")  # noqa: S308  # nosec B308


def user_repositories(request):
    # The filter's choices are the user's repositories only: another team's is "not a valid choice".
    return selectors.repository_list(getattr(request, "user", None))


def _flat_attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html in Python: ` name="value"`, a bare ` name` for True, nothing for False."""
    return safe_join(
        format_html(" {}", name) if value is True else format_html(' {}="{}"', name, str(value))
        for name, value in attrs.items() if value is not False
    )


class FastSelect(forms.Select):
    """forms.Select rendering its options in Python, the markup of Django's select.html and select_option.html:
    through the templates a select of 200 repositories took 40 ms of every list page."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        parts = []
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(format_html('\n  <optgroup label="{}">', group_name))
            for option in options:
                parts.append(format_html('\n  <option value="{}"{}>{}</option>', str(option["value"]),
                                         _flat_attrs(option["attrs"]), option["label"]))
            if group_name:
                parts.append(END_OPTGROUP)
        return format_html('<select name="{}"{}>{}\n</select>', widget["name"], _flat_attrs(widget["attrs"]),
                           safe_join(parts))


class BootstrapFilterSet(django_filters.FilterSet):
    """Bootstrap classes on the filter form's widgets; selects rendered by FastSelect."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            css = "form-select form-select-sm" if hasattr(field, "choices") else "form-control form-control-sm"
            field.widget.attrs.setdefault("class", css)
            if type(field.widget) is forms.Select:
                field.widget.__class__ = FastSelect  # same state, faster render


class FindingFilter(BootstrapFilterSet):
    q = django_filters.CharFilter(method="search", label="Search",
                                  help_text="Words in the title, rule or file path")
    repository = django_filters.ModelChoiceFilter(queryset=user_repositories, empty_label="All repositories")
    # Filtered on severity_rank (same meaning), which the list's order index (severity_rank, id) starts with.
    severity = django_filters.ChoiceFilter(choices=Severity.choices, empty_label="All severities",
                                           method="by_severity")
    status = django_filters.ChoiceFilter(choices=Finding.Status.choices, empty_label="All statuses")
    tool = django_filters.ChoiceFilter(choices=(), empty_label="All tools")

    class Meta:
        model = Finding
        fields = ["q", "repository", "severity", "status", "tool"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tools = selectors.finding_tools(getattr(self.request, "user", None))
        # The field adds its empty_label ("All tools") itself.
        self.form.fields["tool"].choices = [(tool, tool) for tool in tools]
        self.form.fields["q"].widget.attrs["type"] = "search"

    def by_severity(self, queryset, name, value):
        return queryset.filter(severity_rank=SEVERITY_RANK[value])

    def search(self, queryset, name, value):
        for word in value.split():
            queryset = queryset.filter(
                Q(title__icontains=word) | Q(rule_id__icontains=word) | Q(file_path__icontains=word)
            )
        return queryset


class ScanFilter(BootstrapFilterSet):
    repository = django_filters.ModelChoiceFilter(queryset=user_repositories, empty_label="All repositories")
    status = django_filters.ChoiceFilter(choices=Scan.Status.choices, empty_label="All statuses")

    class Meta:
        model = Scan
        fields = ["repository", "status"]
