"""The badges every page shows, from one place: the Python that the fast tables call per cell (findings/tables.py,
issues/tables.py), as template tags for the templates (partials/*_badge.html, issues/_status.html)."""

from django import template

from findings.tables import severity_badge
from issues.tables import issue_status, tracker_badge

register = template.Library()
register.simple_tag(severity_badge, name="severity_badge")
register.simple_tag(tracker_badge, name="tracker_badge")
register.simple_tag(issue_status, name="issue_status")
