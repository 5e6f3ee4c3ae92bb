"""The repository form and its Tracker section.

The tracker section has one set of fields per tracker type (`github_repository`, `jira_token`, ...), so each
type's inputs appear once in the page: static/js/app.js shows only the chosen type's set, and without
JavaScript every set is shown under its own heading. Validation is shared with the REST API
(trackers/validation.py).
"""

from __future__ import annotations

from typing import Any

from django import forms

from findings.forms import BootstrapFormMixin
from findings.models import Repository, Severity
from teams.models import Role, Team
from teams.selectors import teams_for

from .models import FIELDS_BY_TYPE, ReopenPolicy, TrackerConfig, TrackerType
from .services import MODEL_FIELD
from .validation import parse_labels, tracker_errors

NO_TRACKER = ""
TYPE_CHOICES = [(NO_TRACKER, "No tracker"), *TrackerType.choices]

# Per tracker type: (label, help text) of each of its fields, in FIELDS_BY_TYPE order.
FIELD_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "github": {
        "repository": ("Repository", 'The GitHub repository as "owner/name", e.g. "acme/webapp".'),
        "token": ("Token", "A fine-grained token with read and write access to Issues."),
        "api_url": ("API URL", "Leave blank for github.com. GitHub Enterprise Server: https://HOST/api/v3"),
    },
    "gitlab": {
        "project_id": ("Project ID", 'The numeric project ID or its path, e.g. "group/project".'),
        "instance_url": ("Instance URL", "Leave blank for https://gitlab.com."),
        "token": ("Token", "A project or personal access token with the api scope."),
    },
    "gitea": {
        "repository": ("Repository", 'The Gitea repository as "owner/name".'),
        "instance_url": ("Instance URL", "The address of your Gitea, e.g. https://gitea.example.com"),
        "token": ("Token", "An access token with the write:issue scope."),
    },
    "jira": {
        "project_key": ("Project key", 'The key of the Jira project, e.g. "SEC".'),
        "instance_url": ("Instance URL", "e.g. https://acme.atlassian.net"),
        "email": ("Email", "Your Atlassian account email (Jira Cloud). Leave blank for a Data Center token."),
        "token": ("Token", "An API token (Jira Cloud) or a personal access token (Data Center)."),
        "issue_type": ("Issue type", 'The issue type to create; "Bug" when left blank.'),
    },
}
URL_FIELDS = {"instance_url", "api_url"}
MAX_LENGTH = {"repository": 300, "project_id": 300, "project_key": 50, "email": 254, "issue_type": 100,
              "token": 4096}


def field_name(tracker_type: str, name: str) -> str:
    return f"{tracker_type}_{name}"


class RepositoryForm(BootstrapFormMixin, forms.ModelForm):
    url = forms.URLField(label="Web address", required=False, assume_scheme="https",
                         help_text="e.g. https://github.com/acme/webapp: links each finding to its file and line.")
    # Declared (not from the model): the model's default team must not leak into the form.
    team = forms.ModelChoiceField(queryset=Team.objects.none(), label="Team",
                                  help_text="Its members see the repository; one of the teams you are admin of.")

    class Meta:
        model = Repository
        fields = ["name", "team", "url", "default_branch"]
        labels = {"name": "Name", "default_branch": "Default branch"}
        help_texts = {"name": 'Usually "owner/name", e.g. "acme/webapp".'}

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        teams = list(teams_for(user, Role.ADMIN))
        field = self.fields["team"]
        field.queryset = teams_for(user, Role.ADMIN)
        # Admin of exactly one team: that one, also when the field is left out (as the API does).
        self.only_team = teams[0] if len(teams) == 1 else None
        if self.only_team is not None:
            field.empty_label = None
            field.required = False
            if self.instance.pk is None:
                field.initial = self.only_team.pk
        else:
            field.empty_label = "Choose a team"

    def clean_team(self):
        return self.cleaned_data.get("team") or self.only_team


class TrackerForm(BootstrapFormMixin, forms.Form):
    """Tracker settings of one repository. `config` is the saved TrackerConfig, if any."""

    type = forms.ChoiceField(label="Tracker", choices=TYPE_CHOICES, required=False,
                             widget=forms.Select(attrs={"data-tracker-type-select": ""}),
                             help_text="Where Certifai files an issue for each finding.")
    min_severity = forms.ChoiceField(label="Minimum severity", choices=Severity.choices, initial=Severity.LOW,
                                     help_text="Findings below this severity get no issue (unless you ask for one).")
    labels = forms.CharField(label="Labels", required=False, max_length=2100,
                             help_text='Comma-separated, e.g. "security, certifai".')
    auto_close = forms.BooleanField(label="Close the issue when its finding is fixed", required=False,
                                    initial=True)
    reopen_policy = forms.ChoiceField(label="Reopen policy", choices=ReopenPolicy.choices,
                                      initial=ReopenPolicy.UNLESS_ACCEPTED,
                                      help_text="What to do when a fixed finding is seen again.")

    def __init__(self, *args: Any, config: TrackerConfig | None = None, **kwargs: Any):
        self.config = config
        kwargs.setdefault("prefix", "tracker")
        if config is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(config)
        self._add_type_fields()
        super().__init__(*args, **kwargs)

    def _add_type_fields(self) -> None:
        # Declared per instance: base_fields is copied into self.fields by Form.__init__.
        fields = {}
        for tracker_type, names in FIELDS_BY_TYPE.items():
            for name in names:
                label, help_text = FIELD_TEXT[tracker_type][name]
                fields[field_name(tracker_type, name)] = self._make_field(tracker_type, name, label, help_text)
        self.base_fields = {**type(self).base_fields, **fields}

    def _make_field(self, tracker_type: str, name: str, label: str, help_text: str) -> forms.Field:
        if FIELDS_BY_TYPE[tracker_type][name] and not self._keeps_token(tracker_type, name):
            label = f"{label} (required)"
        if name == "token":
            if self._keeps_token(tracker_type, name):
                help_text = "A token is saved. Leave blank to keep it, or type a new one to replace it."
            return forms.CharField(
                label=label, help_text=help_text, required=False, max_length=MAX_LENGTH["token"], strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            )
        if name in URL_FIELDS:
            return forms.URLField(label=label, help_text=help_text, required=False, max_length=500,
                                  assume_scheme="https")
        initial = "Bug" if name == "issue_type" else None
        return forms.CharField(label=label, help_text=help_text, required=False, max_length=MAX_LENGTH[name],
                               initial=initial)

    def _keeps_token(self, tracker_type: str, name: str) -> bool:
        return name == "token" and self.config is not None and self.config.type == tracker_type and \
            self.config.has_token

    def has_saved_token(self, tracker_type: str) -> bool:
        return self._keeps_token(tracker_type, "token")

    @staticmethod
    def initial_from(config: TrackerConfig) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "type": config.type,
            "min_severity": config.min_severity,
            "labels": ", ".join(config.labels or []),
            "auto_close": config.auto_close,
            "reopen_policy": config.reopen_policy,
        }
        for name in FIELDS_BY_TYPE[config.type]:
            if name != "token":
                initial[field_name(config.type, name)] = getattr(config, MODEL_FIELD.get(name, name))
        return initial

    # --- the groups the template renders ------------------------------------------------------

    def type_sections(self) -> list[dict[str, Any]]:
        """One section per tracker type: its value, label, fields and whether a token is saved."""
        return [
            {
                "type": tracker_type,
                "label": label,
                "fields": [self[field_name(tracker_type, name)] for name in FIELDS_BY_TYPE[tracker_type]],
                "token_saved": self.has_saved_token(tracker_type),
            }
            for tracker_type, label in TrackerType.choices
        ]

    def common_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("min_severity", "labels", "auto_close", "reopen_policy")]

    # --- validation -----------------------------------------------------------------------------

    def clean_labels(self) -> list[str]:
        try:
            return parse_labels(self.cleaned_data.get("labels") or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        tracker_type = cleaned.get("type") or NO_TRACKER
        if tracker_type == NO_TRACKER:
            return cleaned
        values = {name: cleaned.get(field_name(tracker_type, name)) or "" for name in FIELDS_BY_TYPE[tracker_type]}
        values["labels"] = cleaned.get("labels") or []
        errors = tracker_errors(tracker_type, values, keeps_token=self.has_saved_token(tracker_type))
        for name, message in errors.items():
            target = field_name(tracker_type, name) if name in FIELDS_BY_TYPE[tracker_type] else name
            if target not in self.fields:
                target = None
            # A field that failed its own validation (e.g. a bad URL) keeps that message.
            if target is None or target not in self.errors:
                self.add_error(target, message[0].upper() + message[1:] + ("" if message.endswith(".") else "."))
        return cleaned

    def tracker_data(self) -> dict[str, Any] | None:
        """Validated values for trackers.services.save_tracker, or None for "no tracker"."""
        tracker_type = self.cleaned_data.get("type") or NO_TRACKER
        if tracker_type == NO_TRACKER:
            return None
        data: dict[str, Any] = {"type": tracker_type}
        for name in FIELDS_BY_TYPE[tracker_type]:
            data[name] = self.cleaned_data.get(field_name(tracker_type, name)) or ""
        for name in ("min_severity", "labels", "auto_close", "reopen_policy"):
            data[name] = self.cleaned_data[name]
        return data
