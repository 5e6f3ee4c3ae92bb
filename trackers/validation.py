"""The rules a tracker configuration must follow, shared by the REST API serializer and the web form.

Plain functions over plain values: each caller maps the returned {field: message} onto its own errors.
Field names are the API/form names of FIELDS_BY_TYPE ("repository", "project_id", "token", ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings

from . import netguard
from .models import FIELDS_BY_TYPE, TrackerType

OWNER_NAME = re.compile(r"^[\w.-]+/[\w.-]+$")
JIRA_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")
TYPE_HINTS = {
    "repository": '"owner/name"',
    "project_id": 'a number or "group/project"',
    "project_key": 'the project key, e.g. "SEC"',
    "instance_url": "the address of your instance, e.g. https://jira.example.com",
    "token": "an access token",
}
MAX_LABELS = 20
MAX_LABEL_LENGTH = 100


URL_FIELDS = ("instance_url", "api_url")


def tracker_errors(tracker_type: str, values: Mapping[str, Any], keeps_token: bool = False,
                   allowed_hosts: Iterable[str] | None = None) -> dict[str, str]:
    """What is wrong with `values` for a tracker of `tracker_type`, field by field; empty when nothing is.

    `keeps_token`: a token of this type is saved already, so a blank token keeps it (the token is write-only).
    `allowed_hosts`: CERTIFAI_TRACKER_ALLOWED_HOSTS (settings.TRACKER_ALLOWED_HOSTS when None). A tracker URL
    must be https unless its host is allowed, and must not resolve to a loopback, private, link-local or
    metadata address unless allowed (trackers/netguard.py; the same rules are enforced again at connect time).
    """
    if tracker_type not in FIELDS_BY_TYPE:
        return {"type": f"required: one of {', '.join(TrackerType.values)}"}
    fields = FIELDS_BY_TYPE[tracker_type]
    errors: dict[str, str] = {}
    for name, required in fields.items():
        if required and not str(values.get(name) or "").strip() and not (name == "token" and keeps_token):
            errors[name] = f"required for a {TrackerType(tracker_type).label} tracker: {TYPE_HINTS.get(name, name)}"
    repo = str(values.get("repository") or "").strip()
    if repo and "repository" in fields and "repository" not in errors and not OWNER_NAME.match(repo):
        errors["repository"] = 'expected "owner/name", e.g. "acme/webapp"'
    key = str(values.get("project_key") or "").strip()
    if key and tracker_type == "jira" and "project_key" not in errors and not JIRA_KEY.match(key):
        errors["project_key"] = 'expected a Jira project key: capital letters and digits, e.g. "SEC"'
    if tracker_type == "jira" and any(" " in label for label in values.get("labels") or []):
        errors["labels"] = "Jira labels can't contain spaces: use dashes"
    allowed = getattr(settings, "TRACKER_ALLOWED_HOSTS", ()) if allowed_hosts is None else allowed_hosts
    for name in URL_FIELDS:
        url = str(values.get(name) or "").strip()
        if url and name in fields and name not in errors:
            problem = netguard.url_problem(url, allowed)
            if problem:
                errors[name] = problem
    return errors


def parse_labels(text: str) -> list[str]:
    """Comma-separated labels as typed in a form: trimmed, empty ones and repeats dropped, order kept.
    Raises ValueError with a message for too many or too long labels."""
    labels: list[str] = []
    for part in (text or "").split(","):
        label = part.strip()
        if label and label not in labels:
            labels.append(label)
    if len(labels) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels")
    too_long = [label for label in labels if len(label) > MAX_LABEL_LENGTH]
    if too_long:
        raise ValueError(f"a label can have at most {MAX_LABEL_LENGTH} characters: {too_long[0][:20]}…")
    return labels
