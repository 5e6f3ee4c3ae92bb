"""Filters of the issues list (django-filter)."""

from __future__ import annotations

import django_filters

from findings.filters import BootstrapFilterSet, user_repositories
from trackers.models import TrackerType

from .models import TrackerIssue

STATUS_CHOICES = [("open", "Open"), ("closed", "Closed"), ("pending", "Pending"), ("failed", "Failed")]


class IssueFilter(BootstrapFilterSet):
    q = django_filters.CharFilter(method="search", label="Search", help_text="Words in the issue title")
    tracker = django_filters.ChoiceFilter(choices=TrackerType.choices, empty_label="All trackers")
    status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, method="by_status", empty_label="All statuses")
    repository = django_filters.ModelChoiceFilter(queryset=user_repositories,
                                                  empty_label="All repositories")

    class Meta:
        model = TrackerIssue
        fields = ["q", "tracker", "status", "repository"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.fields["q"].widget.attrs["type"] = "search"

    def search(self, queryset, name, value):
        # Filed issues carry the tracker's title, pending ones the title they will be filed under
        # (issues.services.planned_title_sql): one condition per word, answered on PostgreSQL by the trigram index
        # on the title (issues/migrations/0002).
        for word in value.split():
            queryset = queryset.filter(title__icontains=word)
        return queryset

    def by_status(self, queryset, name, value):
        if value in (TrackerIssue.State.OPEN, TrackerIssue.State.CLOSED):
            return queryset.filter(state=value)
        return queryset.filter(sync_state=value)
