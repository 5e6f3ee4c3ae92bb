"""Filters of the findings and scans lists (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from . import selectors
from .models import Finding, Scan, Severity


def user_repositories(request):
    # The filter's choices are the user's repositories only: another team's is "not a valid choice".
    return selectors.repository_list(getattr(request, "user", None))


class BootstrapFilterSet(django_filters.FilterSet):
    """Bootstrap classes on the filter form's widgets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            css = "form-select form-select-sm" if hasattr(field, "choices") else "form-control form-control-sm"
            field.widget.attrs.setdefault("class", css)


class FindingFilter(BootstrapFilterSet):
    q = django_filters.CharFilter(method="search", label="Search",
                                  help_text="Words in the title, rule or file path")
    repository = django_filters.ModelChoiceFilter(queryset=user_repositories, empty_label="All repositories")
    severity = django_filters.ChoiceFilter(choices=Severity.choices, empty_label="All severities")
    status = django_filters.ChoiceFilter(choices=Finding.Status.choices, empty_label="All statuses")
    tool = django_filters.ChoiceFilter(choices=(), empty_label="All tools")

    class Meta:
        model = Finding
        fields = ["q", "repository", "severity", "status", "tool"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tools = selectors.finding_tools(getattr(self.request, "user", None))
        self.form.fields["tool"].choices = [("", "All tools"), *((tool, tool) for tool in tools)]
        self.form.fields["q"].widget.attrs["type"] = "search"

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
