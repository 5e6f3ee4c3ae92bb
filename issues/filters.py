"""Filters of the issues list (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import Q

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
        for word in value.split():
            # A pending issue has no title yet: it will be named after its finding.
            queryset = queryset.filter(Q(title__icontains=word) | Q(title="", finding__title__icontains=word))
        return queryset

    def by_status(self, queryset, name, value):
        if value in (TrackerIssue.State.OPEN, TrackerIssue.State.CLOSED):
            return queryset.filter(state=value)
        return queryset.filter(sync_state=value)
