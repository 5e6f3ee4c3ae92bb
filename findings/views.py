"""Web pages of the findings app: the findings and scans lists. Reads go through selectors.

The finding detail page lives in issues/views.py: it shows the finding's tracker issue, which this app
can't import (dependencies flow issues -> trackers -> findings).
"""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from . import selectors
from .filters import FindingFilter, ScanFilter
from .tables import BoundedCountPaginator, FindingTable, ScanTable

PAGE_SIZE = 25


class FindingListView(LoginRequiredMixin, SingleTableMixin, FilterView):
    template_name = "findings/finding_list.html"
    table_class = FindingTable
    filterset_class = FindingFilter
    # Counts at most 1,000 rows: beyond that "more than 1,000", pages fetched lazily.
    table_pagination = {"per_page": PAGE_SIZE, "paginator_class": BoundedCountPaginator}
    extra_context = {"nav": "findings"}

    def get_queryset(self):
        return selectors.finding_list(self.request.user)


class ScanListView(LoginRequiredMixin, SingleTableMixin, FilterView):
    template_name = "findings/scan_list.html"
    table_class = ScanTable
    filterset_class = ScanFilter
    # Counts at most 1,000 rows: beyond that "more than 1,000", pages fetched lazily.
    table_pagination = {"per_page": PAGE_SIZE, "paginator_class": BoundedCountPaginator}
    extra_context = {"nav": "scans"}

    def get_queryset(self):
        return selectors.scan_list(self.request.user)
