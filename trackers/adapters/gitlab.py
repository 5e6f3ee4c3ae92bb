"""GitLab (gitlab.com or self-managed) through python-gitlab and the REST API v4.

Retries, deliberately:

- python-gitlab's own retrying is off for every call (`obey_rate_limit=False`, `retry_transient_errors=False`,
  `max_retries=0`). Left on, `obey_rate_limit` sleeps inside the worker for as long as `Retry-After` says (up to
  ten times), and `retry_transient_errors` repeats POSTs after a timeout or a dropped connection: the same issue
  filed twice.
- A 429 becomes `TrackerRateLimited(retry_after=...)` from `Retry-After` (or `RateLimit-Reset`), so the Celery task
  waits instead of the client.
- Reads (GET) are retried here, at most `GET_RETRIES` times with a short backoff, after a 5xx, a timeout or a
  connection error. Writes are never retried: a write whose answer was lost raises
  `TrackerTransientError(outcome_unknown=True)` and the caller looks the issue up (`find_issue`) first.

Errors are rebuilt from the status code and never carry python-gitlab's exception text, response body or URL
(`raise ... from None`), and any text that is quoted is scrubbed of the token.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import gitlab
import requests
import urllib3
from gitlab import exceptions as gl_exc

from .. import netguard
from .base import (
    ConnectionResult,
    ExternalIssue,
    IssueContent,
    TrackerAdapter,
    TrackerAuthError,
    TrackerConfigError,
    TrackerError,
    TrackerRateLimited,
    TrackerTransientError,
    WebhookSignatureError,
    has_marker,
    webhook_json,
)
from .content import issue_labels, markdown_body

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_URL = "https://gitlab.com"
# Keyword arguments for every python-gitlab call: no sleeping on 429, no automatic retry of anything.
NO_CLIENT_RETRY: dict[str, Any] = {"obey_rate_limit": False, "retry_transient_errors": False, "max_retries": 0}

# GitLab has no close reason: Certifai labels issues it closes as an accepted risk, and reads these labels
# (case-insensitive, also as the value of a scoped label such as "resolution::won't fix") as one.
ACCEPTED_RISK_LABEL = "accepted-risk"
ACCEPTED_RISK_LABELS = frozenset({"accepted-risk", "accepted risk", "won't fix", "wontfix", "not planned"})

# https://docs.gitlab.com/api/members/#roles
GUEST, PLANNER, REPORTER = 10, 15, 20
ROLE_NAMES = {0: "no", 5: "Minimal Access", 10: "Guest", 15: "Planner", 20: "Reporter", 30: "Developer",
              40: "Maintainer", 50: "Owner"}

TOKEN_HINT = "create a token with the api scope"
ROLE_HINT = "give the token's user at least the Reporter role (or Planner) in the project"


def is_accepted_risk_label(label: str) -> bool:
    name = label.strip().lower().replace("\u2019", "'")
    return name in ACCEPTED_RISK_LABELS or name.rsplit("::", 1)[-1].strip() in ACCEPTED_RISK_LABELS


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise_project_ref(value: str) -> str | int:
    """A numeric id, or the "group/subgroup/project" path (also from a pasted project URL)."""
    ref = (value or "").strip()
    if ref.startswith(("http://", "https://")):
        ref = urlsplit(ref).path
    ref = ref.split("/-/", 1)[0].strip("/")
    ref = ref.removesuffix(".git")
    return int(ref) if ref.isdigit() else ref


class _Session(requests.Session):
    """Keeps the last response (python-gitlab's errors drop the headers, and with them Retry-After), and never
    carries the PRIVATE-TOKEN header to another host on a redirect (requests only strips `Authorization`)."""

    def __init__(self) -> None:
        super().__init__()
        self.last_response: requests.Response | None = None
        self.hooks["response"].append(self._remember)

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last_response = response

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        if self.should_strip_auth(response.request.url, prepared_request.url):
            prepared_request.headers.pop("PRIVATE-TOKEN", None)
        super().rebuild_auth(prepared_request, response)


class GitLabAdapter(TrackerAdapter):
    type = "gitlab"
    display_name = "GitLab"

    GET_RETRIES = 2  # a read is tried at most 1 + GET_RETRIES times
    RETRY_BACKOFF = 0.5  # seconds, doubled each time
    MAX_RETRY_WAIT = 5.0  # a 5xx asking for a longer Retry-After is left to the task's own retry
    CREATED_AFTER_MARGIN = timedelta(minutes=10)  # clock skew between Certifai and GitLab
    PER_PAGE = 100  # GitLab's maximum
    MAX_PAGES = 50

    def __init__(self, settings: Any):
        super().__init__(settings)
        self.base_url = (settings.instance_url or DEFAULT_URL).strip().rstrip("/")
        self.project_ref = normalise_project_ref(settings.project_id)
        self._session = _Session()
        # Public addresses only (unless allowed), checked at connect time on every hop; writes never redirected.
        netguard.guard_session(self._session, settings.allowed_hosts)
        self._gl = gitlab.Gitlab(
            url=self.base_url,
            private_token=settings.token,
            timeout=settings.timeout,
            retry_transient_errors=False,
            user_agent="Certifai (python-gitlab)",
            session=self._session,
        )

    # --- plumbing -------------------------------------------------------------------------------------------

    @property
    def _project_label(self) -> str:
        return str(self.project_ref) if self.project_ref != "" else "(no project set)"

    def _project(self) -> Any:
        if self.project_ref == "":
            raise TrackerConfigError("No GitLab project is set: enter its numeric ID or its path (group/project).")
        return self._gl.projects.get(self.project_ref, lazy=True)

    def _issue(self, external_id: str) -> Any:
        return self._project().issues.get(self._iid(external_id), lazy=True)

    @staticmethod
    def _iid(external_id: str) -> int:
        text = str(external_id).strip().lstrip("#")
        if not text.isdigit():
            raise TrackerConfigError(f"{external_id!r} is not a GitLab issue number (iid).")
        return int(text)

    def _scrub(self, text: str) -> str:
        token = self.settings.token
        return text.replace(token, "***") if token else text

    def _retry_after(self) -> float | None:
        response = self._session.last_response
        if response is None:
            return None
        value = response.headers.get("Retry-After")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                try:
                    return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
                except (TypeError, ValueError):
                    pass
        reset = response.headers.get("RateLimit-Reset")
        if reset:
            try:
                moment = float(reset)
            except ValueError:
                return None
            # Documented as a Unix time; a small number can only be a delay in seconds.
            return max(0.0, moment - time.time()) if moment > 1_000_000_000 else max(0.0, moment)
        return None

    def _translate(self, exc: Exception, action: str, write: bool) -> TrackerError:
        """One of our errors for a python-gitlab or requests error. Never quotes the exception itself."""
        if isinstance(exc, TrackerError):
            return exc
        refused = netguard.refusal_text(exc, "GitLab", action)
        if refused:
            return TrackerConfigError(refused)
        if isinstance(exc, gl_exc.RedirectError):
            return TrackerConfigError(
                f"GitLab redirected the request to {action}: set the instance URL to the address GitLab answers on "
                "(https, without a path)."
            )
        if isinstance(exc, gl_exc.GitlabError):
            code = exc.response_code
            message = self._scrub(str(exc.error_message or ""))[:200]
            if code is None:
                return TrackerConfigError(
                    f"Could not read GitLab's answer to {action} (not JSON): check the instance URL {self.base_url}."
                )
            if code == 401:
                return TrackerAuthError(f"GitLab rejected the token (401): {TOKEN_HINT}.")
            if code == 403:
                if "insufficient_scope" in message:
                    return TrackerAuthError(f"GitLab refused to {action} (403): the token lacks the api scope; "
                                            f"{TOKEN_HINT}.")
                return TrackerAuthError(
                    f"GitLab refused to {action} in project {self._project_label} (403): {ROLE_HINT}, and check that "
                    "issues are enabled and the project is not archived."
                )
            if code == 404:
                if "issue" in message.lower():
                    return TrackerConfigError(f"GitLab has no such issue in project {self._project_label} (404), "
                                              f"while trying to {action}.")
                if "project" in message.lower():
                    return TrackerConfigError(
                        f"GitLab project {self._project_label} was not found on {self.base_url} (404), or the token's "
                        "user cannot see it: check the project ID or path (group/project)."
                    )
                return TrackerConfigError(f"GitLab answered 404 to {action}: check the instance URL {self.base_url}.")
            if code == 429:
                retry_after = self._retry_after()
                wait = f" for {retry_after:g}s" if retry_after is not None else ""
                return TrackerRateLimited(f"GitLab rate limit reached while trying to {action}: waiting{wait}.",
                                          retry_after=retry_after)
            if code >= 500 or code == 409:
                return TrackerTransientError(f"GitLab answered {code} to {action}.", outcome_unknown=write)
            return TrackerConfigError(f"GitLab rejected the request to {action} ({code}): {message}")
        if isinstance(exc, requests.exceptions.SSLError):
            return TrackerConfigError(f"The TLS certificate of {self.base_url} could not be verified.")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return TrackerTransientError(f"Could not connect to GitLab at {self.base_url} in time to {action}.")
        if isinstance(exc, requests.exceptions.Timeout):
            return TrackerTransientError(
                f"GitLab did not answer within {self.settings.timeout:g}s while trying to {action}.",
                outcome_unknown=write,
            )
        if isinstance(exc, requests.exceptions.ConnectionError):
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            never_sent = isinstance(reason, urllib3.exceptions.NewConnectionError)
            return TrackerTransientError(
                f"Could not reach GitLab at {self.base_url} to {action}."
                if never_sent else f"The connection to GitLab broke while trying to {action}.",
                outcome_unknown=write and not never_sent,
            )
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            return TrackerTransientError(f"GitLab's answer to {action} was cut off.", outcome_unknown=write)
        if isinstance(exc, requests.exceptions.RequestException):
            return TrackerConfigError(f"Invalid GitLab instance URL {self.base_url!r}.")
        raise exc

    def _call(self, action: str, fn: Callable[[], T], write: bool = False) -> T:
        """Run one python-gitlab call; retry reads after transient errors; raise only TrackerErrors."""
        attempts = 1 if write else 1 + self.GET_RETRIES
        for attempt in range(attempts):
            self._session.last_response = None
            try:
                return fn()
            except (gl_exc.GitlabError, requests.exceptions.RequestException, TrackerError) as exc:
                error = self._translate(exc, action, write)
            if isinstance(error, TrackerTransientError) and attempt + 1 < attempts:
                wait = self.RETRY_BACKOFF * 2**attempt
                asked = self._retry_after()
                if asked is not None and asked > self.MAX_RETRY_WAIT:
                    raise error
                wait = max(wait, asked or 0.0)
                log.warning("GitLab: %s (attempt %d of %d); retrying in %.1fs", error, attempt + 1, attempts, wait)
                time.sleep(wait)
                continue
            raise error
        raise AssertionError("unreachable")

    def _list_pages(self, action: str, max_pages: int | None = None, **filters: Any) -> Iterator[dict[str, Any]]:
        """Issues of the project, page by page (each page one GET, retried on its own)."""
        page = 1
        for _ in range(max_pages or self.MAX_PAGES):
            items = self._call(
                action,
                lambda page=page: self._project().issues.list(
                    page=page, per_page=self.PER_PAGE, get_all=False, **filters, **NO_CLIENT_RETRY
                ),
            )
            for item in items:
                yield item.asdict()
            response = self._session.last_response
            next_page = response.headers.get("X-Next-Page") if response is not None else None
            if next_page is None:  # header missing: fall back on the page size
                next_page = str(page + 1) if len(items) >= self.PER_PAGE else ""
            if not next_page.strip().isdigit():
                return
            page = int(next_page)

    def _to_external(self, data: dict[str, Any]) -> ExternalIssue:
        state = "closed" if data.get("state") == "closed" else "open"
        labels = [label["name"] if isinstance(label, dict) else str(label) for label in data.get("labels") or []]
        return ExternalIssue(
            tracker="gitlab",
            external_id=str(data["iid"]),
            title=data.get("title") or "",
            url=data.get("web_url") or "",
            status=state,
            state=state,
            accepted_risk=state == "closed" and any(is_accepted_risk_label(label) for label in labels),
            created=_parse_time(data.get("created_at")),
            body=data.get("description") or "",
        )

    # --- the interface -----------------------------------------------------------------------------------------

    def check_connection(self) -> ConnectionResult:
        user = self._call("read the token's user", lambda: self._gl.http_get("/user", **NO_CLIENT_RETRY))
        username = user.get("username", "?") if isinstance(user, dict) else "?"

        # Scopes, where GitLab can tell (personal, project and group access tokens; not OAuth tokens).
        try:
            token = self._call("read the token", lambda: self._gl.http_get("/personal_access_tokens/self",
                                                                           **NO_CLIENT_RETRY))
        except (TrackerAuthError, TrackerConfigError):
            token = None
        scopes = token.get("scopes") if isinstance(token, dict) else None
        if isinstance(scopes, list) and "api" not in scopes:
            have = ", ".join(scopes) or "none"
            return ConnectionResult(False, f"The token has the scopes {have}; Certifai needs the api scope to create "
                                           f"and update issues (read_api is not enough): {TOKEN_HINT}.")

        if self.project_ref == "":
            return ConnectionResult(False, "No GitLab project is set: enter its numeric ID or its path "
                                           "(group/project).")
        project = self._call("read the project", lambda: self._gl.projects.get(self.project_ref, **NO_CLIENT_RETRY))
        info = project.asdict()
        path = info.get("path_with_namespace") or self._project_label
        if info.get("archived"):
            return ConnectionResult(False, f"GitLab project {path} is archived, so it is read-only: unarchive it or "
                                           "pick another project.")
        if info.get("issues_enabled") is False or info.get("issues_access_level") == "disabled":
            return ConnectionResult(
                False,
                f"Issues are turned off in GitLab project {path}: turn them on in Settings > General > "
                "Visibility, project features, permissions.",
            )
        permissions = info.get("permissions") or {}
        levels = [
            (permissions.get(kind) or {}).get("access_level") or 0 for kind in ("project_access", "group_access")
        ]
        level = max(levels)
        role = ROLE_NAMES.get(level, f"access level {level}")
        if user.get("is_admin"):
            role = "administrator"
        elif level < PLANNER:
            if level >= GUEST:
                problem = (f"The token's user @{username} has the Guest role in {path}: GitLab lets a Guest create "
                           "issues, but not change the labels of existing ones, and close or reopen only issues it "
                           "opened itself.")
            else:
                problem = f"The token's user @{username} is not a member of {path}."
            return ConnectionResult(False, f"{problem} Certifai labels, closes and reopens its issues: {ROLE_HINT}.")
        return ConnectionResult(
            True,
            f"Connected to GitLab as @{username}: Certifai can create, label, close and reopen issues in {path} "
            f"(role: {role}).",
        )

    def create_issue(self, content: IssueContent) -> ExternalIssue:
        labels = issue_labels(content, tuple(self.settings.labels))
        data = {"title": content.title, "description": markdown_body(content), "labels": ",".join(labels)}
        issue = self._call(
            f"create an issue in {self._project_label}",
            lambda: self._project().issues.create(data, **NO_CLIENT_RETRY),
            write=True,
        )
        return self._to_external(issue.asdict())

    def get_issue(self, external_id: str) -> ExternalIssue:
        iid = self._iid(external_id)
        issue = self._call(f"read issue #{iid}", lambda: self._project().issues.get(iid, **NO_CLIENT_RETRY))
        return self._to_external(issue.asdict())

    def _update(self, iid: int, action: str, changes: dict[str, Any]) -> ExternalIssue:
        data = self._call(action, lambda: self._project().issues.update(iid, changes, **NO_CLIENT_RETRY), write=True)
        return self._to_external(data)

    def reopen_issue(self, external_id: str, comment: str) -> ExternalIssue:
        iid = self._iid(external_id)
        if comment:
            self.comment(external_id, comment)
        # An accepted risk that comes back is no longer accepted: drop our label (a person's labels stay).
        changes = {"state_event": "reopen", "remove_labels": ACCEPTED_RISK_LABEL}
        return self._update(iid, f"reopen issue #{iid}", changes)

    def close_issue(self, external_id: str, comment: str, accepted_risk: bool = False) -> ExternalIssue:
        iid = self._iid(external_id)
        if comment:
            self.comment(external_id, comment)
        changes: dict[str, Any] = {"state_event": "close"}
        if accepted_risk:
            changes["add_labels"] = ACCEPTED_RISK_LABEL
        return self._update(iid, f"close issue #{iid}", changes)

    def comment(self, external_id: str, body: str) -> None:
        iid = self._iid(external_id)
        self._call(
            f"comment on issue #{iid}",
            lambda: self._issue(external_id).notes.create({"body": body}, **NO_CLIENT_RETRY),
            write=True,
        )

    def find_issue(self, fingerprint: str, created_after: datetime | None = None) -> ExternalIssue | None:
        action = "look for Certifai's issue"
        if created_after is not None:
            # Consistent listing of the issues created since the work was claimed (no label filter: a Guest's
            # labels may have been dropped, or a person removed ours; the marker is what counts).
            since = _iso(created_after - self.CREATED_AFTER_MARGIN)
            for data in self._list_pages(action, created_after=since, order_by="created_at", sort="asc",
                                         state="all"):
                if has_marker(data.get("description"), fingerprint):
                    return self._to_external(data)
        # Older issues: search (its index may lag behind, so it only serves issues that are not brand new).
        for data in self._list_pages(action, max_pages=5, search=fingerprint, state="all",
                                     order_by="created_at", sort="asc"):
            if has_marker(data.get("description"), fingerprint):
                return self._to_external(data)
        return None

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> ExternalIssue | None:
        # https://docs.gitlab.com/user/project/integrations/webhooks/ : the secret comes back in X-Gitlab-Token.
        token = headers.get("x-gitlab-token") or ""
        if not secret or not hmac.compare_digest(token.encode(), secret.encode()):
            raise WebhookSignatureError("X-Gitlab-Token does not match this repository's webhook secret")
        payload = webhook_json(body)
        attributes = payload.get("object_attributes")
        if payload.get("object_kind") != "issue" or not isinstance(attributes, dict):
            return None
        labels = [{"name": label.get("title", "")} for label in payload.get("labels") or [] if isinstance(label, dict)]
        return self._to_external({**attributes, "web_url": attributes.get("url"), "labels": labels})

    def list_issues(self, external_ids: Sequence[str]) -> list[ExternalIssue]:
        iids: list[int] = []
        for external_id in external_ids:
            text = str(external_id).strip().lstrip("#")
            if text.isdigit() and int(text) not in iids:
                iids.append(int(text))
        found: dict[int, ExternalIssue] = {}
        for start in range(0, len(iids), self.PER_PAGE):
            chunk = iids[start:start + self.PER_PAGE]
            items = self._call(
                f"read {len(chunk)} issues",
                lambda chunk=chunk: self._project().issues.list(
                    iids=chunk, state="all", per_page=self.PER_PAGE, page=1, get_all=False, **NO_CLIENT_RETRY
                ),
            )
            for item in items:
                issue = self._to_external(item.asdict())
                found[int(issue.external_id)] = issue
        return [found[iid] for iid in iids if iid in found]


__all__ = ["GitLabAdapter", "is_accepted_risk_label", "normalise_project_ref"]
