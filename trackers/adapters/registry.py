"""Registry of tracker adapters: adding a tracker is one module plus one line in ADAPTER_MODULES."""

from __future__ import annotations

import importlib

from .base import TrackerAdapter, TrackerSettings

# type -> "module:Class". Imported lazily so one client library's import cost is paid only when used.
ADAPTER_MODULES: dict[str, str] = {
    "github": "trackers.adapters.github:GitHubAdapter",
    "gitlab": "trackers.adapters.gitlab:GitLabAdapter",
    "gitea": "trackers.adapters.gitea:GiteaAdapter",
    "jira": "trackers.adapters.jira:JiraAdapter",
}

DISPLAY_NAMES: dict[str, str] = {"github": "GitHub", "gitlab": "GitLab", "gitea": "Gitea", "jira": "Jira"}


def adapter_class(tracker_type: str) -> type[TrackerAdapter]:
    try:
        target = ADAPTER_MODULES[tracker_type]
    except KeyError:
        raise ValueError(f"unknown tracker type {tracker_type!r}; known: {', '.join(ADAPTER_MODULES)}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def get_adapter(settings: TrackerSettings) -> TrackerAdapter:
    return adapter_class(settings.type)(settings)
