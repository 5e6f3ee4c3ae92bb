"""The one small interface every tracker adapter implements, and the plain values it speaks.

Adapters import no Django model: they take a `TrackerSettings` and `IssueContent` and return
`ExternalIssue`s, so each can be tested alone against its fake server.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

SEVERITIES = ("critical", "high", "medium", "low", "info")

# Every issue Certifai files carries this marker so that Certifai can find its own issue again,
# even when its database lost the link (a dropped response, a killed worker).
MARKER_PREFIX = "certifai:fingerprint="
# Label put on every issue Certifai files (GitHub/GitLab/Gitea), so lookups can list only ours.
CERTIFAI_LABEL = "certifai"


def fingerprint_marker(fingerprint: str) -> str:
    """Machine-readable marker, invisible in rendered Markdown (an HTML comment)."""
    return f"<!-- {MARKER_PREFIX}{fingerprint} -->"


def has_marker(text: str | None, fingerprint: str) -> bool:
    """Whether `text` carries the marker of exactly this fingerprint (not one that merely starts with it)."""
    return bool(text) and re.search(re.escape(MARKER_PREFIX + fingerprint) + r"(?![0-9A-Za-z])", text) is not None


# --- errors: every client error becomes one of these -------------------------------------------


class TrackerError(Exception):
    """Base of all tracker errors. Messages must never contain a token."""

    retryable: ClassVar[bool] = False


class TrackerAuthError(TrackerError):
    """The token is wrong, expired or lacks a permission. Not retried; shown to the user."""


class TrackerConfigError(TrackerError):
    """Not found or bad configuration (unknown project, issue type, URL). Not retried."""


class TrackerNotFound(TrackerConfigError):
    """The issue (or project) is gone from the tracker: deleted or moved."""


class WebhookSignatureError(TrackerError):
    """A webhook delivery whose signature or token doesn't match the repository's secret."""


class TrackerRateLimited(TrackerError):
    """The tracker asked us to slow down; `retry_after` is the wait it asked for, in seconds."""

    retryable = True

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TrackerTransientError(TrackerError):
    """5xx, timeout, connection error: retried.

    `outcome_unknown` is True when the request may have reached the tracker (a write whose
    answer was lost): the caller must look the issue up before creating it again.
    """

    retryable = True

    def __init__(self, message: str, outcome_unknown: bool = False):
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


# --- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackerSettings:
    """One repository's tracker configuration, decrypted, as plain values."""

    type: str
    token: str = field(repr=False)
    repository: str = ""  # github, gitea: "owner/name"
    project_id: str = ""  # gitlab: number or "group/project"
    project_key: str = ""  # jira
    instance_url: str = ""  # gitlab, gitea, jira
    api_url: str = ""  # github (Enterprise: https://HOST/api/v3)
    email: str = ""  # jira cloud; empty for a Data Center personal access token
    issue_type: str = "Bug"  # jira
    labels: tuple[str, ...] = ()
    timeout: float = 15.0  # seconds, for every HTTP call
    # CERTIFAI_TRACKER_ALLOWED_HOSTS: host names or CIDRs a tracker URL may point at although private or loopback
    # (trackers/netguard.py refuses every other non-public address, and plain http to any host not listed).
    allowed_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class IssueContent:
    """What an issue says, independent of any tracker's markup."""

    fingerprint: str
    severity: str  # one of SEVERITIES
    rule_id: str
    rule_title: str
    description: str
    file_path: str
    start_line: int | None
    end_line: int | None
    tool: str
    finding_url: str  # link back to the finding in Certifai
    source_url: str = ""  # link to the file and line, when the repository URL is known
    snippet: str = ""

    @property
    def location(self) -> str:
        if not self.file_path:
            return ""
        return f"{self.file_path}:{self.start_line}" if self.start_line else self.file_path

    @property
    def title(self) -> str:
        """A title with severity, rule and location, within every tracker's limit (GitHub: 256)."""
        name = self.rule_title or self.rule_id or "Finding"
        text = f"[{self.severity.upper()}] {name}"
        if self.location:
            text += f" in {self.location}"
        return text if len(text) <= 250 else text[:249] + "…"


@dataclass(frozen=True)
class ExternalIssue:
    tracker: str  # github, gitlab, gitea, jira
    external_id: str  # GitHub/Gitea number, GitLab iid, Jira key
    title: str
    url: str  # web URL a person opens
    status: str  # the tracker's own status text ("open", "In Progress", ...)
    state: str  # normalised: "open" or "closed"
    accepted_risk: bool = False  # closed as not planned / won't do / won't fix
    created: datetime | None = None
    # Text where the fingerprint marker is looked for: the description, and for get/find also the
    # comments where an adapter reads them (moved code adds the new fingerprint in a comment).
    body: str = field(default="", repr=False)


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    message: str  # what works, or what to fix, in words a person can act on


# --- the interface --------------------------------------------------------------------------------


class TrackerAdapter(abc.ABC):
    """One tracker. Subclasses set `type` and `display_name` and register themselves."""

    type: ClassVar[str]
    display_name: ClassVar[str]

    def __init__(self, settings: TrackerSettings):
        self.settings = settings

    # Appended to the message of an unexpected failure of the connection test (what to check first).
    connection_hint: ClassVar[str] = "check the instance URL"

    def test_connection(self) -> ConnectionResult:
        """Token valid, project exists, may create issues, in words a person can act on. Never raises."""
        try:
            return self.check_connection()
        except TrackerError as exc:
            return ConnectionResult(False, str(exc))
        except Exception as exc:  # the message goes to a person: never a traceback, never a token
            logging.getLogger(type(self).__module__).exception(
                "%s connection test failed unexpectedly", self.display_name
            )
            return ConnectionResult(
                False, f"Unexpected error while testing {self.display_name} ({type(exc).__name__}): "
                       f"{self.connection_hint}."
            )

    @abc.abstractmethod
    def check_connection(self) -> ConnectionResult:
        """The checks of `test_connection`; may raise TrackerError, which becomes the message."""

    @abc.abstractmethod
    def create_issue(self, content: IssueContent) -> ExternalIssue:
        """File one issue. Must not be retried automatically by the client after the request
        was sent (a retried POST can file the issue twice): raise TrackerTransientError with
        outcome_unknown=True instead."""

    @abc.abstractmethod
    def get_issue(self, external_id: str) -> ExternalIssue: ...

    @abc.abstractmethod
    def reopen_issue(self, external_id: str, comment: str) -> ExternalIssue: ...

    @abc.abstractmethod
    def close_issue(self, external_id: str, comment: str, accepted_risk: bool = False) -> ExternalIssue:
        """Close with a comment; reason "completed" (fixed) or, when accepted_risk, not planned / won't do."""

    @abc.abstractmethod
    def comment(self, external_id: str, body: str) -> None: ...

    @abc.abstractmethod
    def find_issue(self, fingerprint: str, created_after: datetime | None = None) -> ExternalIssue | None:
        """The issue Certifai filed for this fingerprint, or None. The marker decides, never a search hit.

        Search indexes lag behind creation, so when `created_after` is given (the time Certifai
        claimed the work) the adapter first reads the issues created since then through a path that
        is consistent: a listing endpoint (GitHub, GitLab, Gitea) or reading keys by number (Jira)."""

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> ExternalIssue | None:
        """The issue state a webhook delivery announces, or None for an event that isn't about an issue.

        Checks the delivery's signature against `secret` first, in constant time; raises
        WebhookSignatureError when it doesn't match. `headers` names are lower case."""
        raise NotImplementedError(f"{self.display_name} webhooks are not supported")

    @abc.abstractmethod
    def list_issues(self, external_ids: Sequence[str]) -> list[ExternalIssue]:
        """Current state of many issues in as few calls as the tracker allows (list/search, not
        one call per issue). Ids the tracker no longer has are left out."""


def hmac_sha256_matches(secret: str, body: bytes, signature: str | None, prefix: str = "") -> bool:
    """Constant-time check of a hex HMAC-SHA256 signature such as "sha256=ab12..." (prefix "sha256=")."""
    if not secret or not signature or not signature.startswith(prefix):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature[len(prefix):].strip().lower())


def webhook_json(body: bytes) -> dict:
    try:
        payload = json.loads(body)
    except ValueError:
        raise TrackerConfigError("the webhook body is not JSON") from None
    if not isinstance(payload, dict):
        raise TrackerConfigError("the webhook body is not a JSON object")
    return payload
