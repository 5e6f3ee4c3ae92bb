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
            # A pending issue has no title yet: it will be named after its finding. Two subqueries rather than one
            # OR across the join, so that PostgreSQL can answer the title part from its trigram index
            # (issues/migrations/0002) and the finding-title part from the few untitled issues alone.
            # The untitled ones are looked up once here (a list of ids, at most the issues not filed yet), not in
            # both the page's query and its count.
            titled = TrackerIssue.objects.filter(title__icontains=word).values("pk")
            untitled = list(TrackerIssue.objects.filter(title="", finding__title__icontains=word)
                            .values_list("pk", flat=True))
            queryset = queryset.filter(Q(pk__in=titled) | Q(pk__in=untitled))
        return queryset

    def by_status(self, queryset, name, value):
        if value in (TrackerIssue.State.OPEN, TrackerIssue.State.CLOSED):
            return queryset.filter(state=value)
        return queryset.filter(sync_state=value)
