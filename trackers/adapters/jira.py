"""Jira Cloud and Jira Data Center through the `jira` library (pycontribs), REST v3 on Cloud and v2 on Data Center.

Which Jira, and how it is spoken to:

- Cloud when `settings.email` is set: Basic auth with the Atlassian account email and an API token, REST v3
  (`options={"rest_api_version": "3"}`), descriptions and comments as Atlassian Document Format. Search is
  `POST /rest/api/3/search/jql` with `nextPageToken` (`JIRA.enhanced_search_issues`): Atlassian removed the old
  `/rest/api/3/search`.
- Data Center when `settings.email` is empty: a personal access token as `Authorization: Bearer` (`token_auth`),
  REST v2, wiki markup, `GET /rest/api/2/search` with `startAt`/`total` (`JIRA.search_issues`).
- No start-up calls: `get_server_info=False` (we know the deployment from the settings and set
  `deploymentType` ourselves, which the library's Cloud-only helpers check), `validate=False`, no update check.
  The library also resets the level of the "jira" logger when constructed; we put it back.

Retries, deliberately:

- The library's `ResilientSession` retries 429 and 503 and connection errors, for every method, sleeping in the
  worker (Retry-After times two, or 10 s * 2^n): `max_retries=0` turns all of it off. A retried POST can file an
  issue twice, and a sleeping worker is the Celery task's job, not the client's.
- A 429 becomes `TrackerRateLimited(retry_after)` from `Retry-After` (or Cloud's `X-RateLimit-Reset`).
- Reads (GET, and the POST of a search, which changes nothing) are retried here at most `GET_RETRIES` times with
  a short backoff after a 5xx, a timeout or a dropped connection. Writes are never retried: when their answer is
  lost we raise `TrackerTransientError(outcome_unknown=True)` and the caller looks the issue up first.
- Errors are rebuilt from the status code and Jira's own `errorMessages`/`errors`; the library's `JIRAError`
  (whose text carries the URL, the request and response headers and body) is never quoted nor chained
  (raised outside the `except` block, so `__context__` is empty), and quoted text is scrubbed of the token.

Finding an issue again (`find_issue`): Jira's search index lags behind writes ("recent updates might not be
immediately visible", Atlassian's search docs; `reconcileIssues` needs the issue ids we don't have), so a search
right after a lost create may not see the issue. In order:

1. with `created_after`: `project = KEY AND labels = certifai AND created >= "<created_after - 10 min>"`, the date
   written in the account's own time zone (JQL reads dates that way; `GET /myself` says which);
2. `project = KEY AND text ~ "<fingerprint>"` (description and comments; no label filter, in case a person removed
   ours); in both, the marker `certifai:fingerprint=<fp>` in the text decides, not the search hit;
3. with `created_after`, reading by key, which is consistent: issue keys are sequential per project, so after the
   last key search knows from before `created_after`, it reads KEY-(n+1), KEY-(n+2), ... (`GET /issue/{key}`) until
   `PROBE_MISSES` in a row don't exist (at most `PROBE_LIMIT` reads).

Without `created_after`, a brand-new issue is not found until the index catches up (seconds on a healthy site).
A per-fingerprint label (`certifai-fp-...`) would not help: labels are searched through the same index, and
thousands of one-off labels would clutter the site's label suggestions.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
import urllib3
from jira import JIRA, JIRAError

from .. import netguard
from .base import (
    CERTIFAI_LABEL,
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
    hmac_sha256_matches,
    webhook_json,
)
from .jira_format import adf_to_text, comment_body, description, jira_labels, jira_summary

log = logging.getLogger(__name__)

T = TypeVar("T")

ISSUE_FIELDS = ["summary", "status", "resolution", "created", "labels", "priority", "description", "comment"]
LIST_FIELDS = ["summary", "status", "resolution", "created", "labels", "priority", "description"]
PERMISSIONS = ("BROWSE_PROJECTS", "CREATE_ISSUES", "TRANSITION_ISSUES", "ADD_COMMENTS")
# Fields of the create screen Certifai fills, or Jira fills by itself.
FILLED_FIELDS = {"project", "summary", "issuetype", "description", "labels", "priority", "reporter"}

# Severity -> the first of these priorities the site has (the default scheme first, then the classic one).
PRIORITY_BY_SEVERITY: dict[str, tuple[str, ...]] = {
    "critical": ("Highest", "Critical", "Blocker"),
    "high": ("High", "Major"),
    "medium": ("Medium", "Minor"),
    "low": ("Low", "Minor"),
    "info": ("Lowest", "Trivial"),
}
ACCEPTED_RISK_RESOLUTIONS = ("won't do", "won't fix", "wont do", "wont fix")
FIXED_RESOLUTIONS = ("done", "fixed", "resolved", "complete", "completed")
NOT_FIXED_RESOLUTIONS = frozenset(ACCEPTED_RISK_RESOLUTIONS) | {
    "duplicate", "cannot reproduce", "incomplete", "declined", "rejected", "obsolete", "not a bug", "not planned",
}
ACCEPTED_RISK_WORDS = ("won't", "wont", "reject", "declin", "not planned")

KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
CLOUD_AUTH_HINT = (
    "use your Atlassian account email and an API token "
    "(https://id.atlassian.com/manage-profile/security/api-tokens), not your password"
)
DC_AUTH_HINT = (
    "use a personal access token (in Jira: your profile > Personal Access Tokens) and leave the email empty"
)

_PRIORITY_CACHE: dict[str, tuple[float, dict[str, str]]] = {}  # base URL -> (when, lower-case name -> name)
_PRIORITY_LOCK = threading.Lock()


def resolution_name(name: str) -> str:
    return " ".join(name.replace("\u2019", "'").lower().split())


def is_accepted_risk(resolution: str | None) -> bool:
    return bool(resolution) and resolution_name(resolution) in ACCEPTED_RISK_RESOLUTIONS


def _parse_time(value: Any) -> datetime | None:
    """Jira's "2024-01-02T03:04:05.000+0000" (also with +10:00 or Z) as an aware UTC datetime."""
    if not value:
        return None
    text = str(value)
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt).astimezone(UTC)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def normalise_base_url(value: str) -> str:
    """The site's base URL, also from a pasted issue or board address."""
    url = (value or "").strip().rstrip("/")
    for marker in ("/browse/", "/projects/", "/jira/software/", "/jira/core/", "/secure/", "/rest/"):
        if marker in url:
            url = url.split(marker, 1)[0]
    parts = urlsplit(url)
    if parts.hostname and parts.hostname.endswith(".atlassian.net"):
        url = f"{parts.scheme}://{parts.netloc}"
    return url.rstrip("/")


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class JiraRequestError(TrackerConfigError):
    """Jira refused the request (4xx); `field_errors` and `messages` are Jira's own, scrubbed."""

    def __init__(self, message: str, field_errors: dict[str, str], messages: list[str]):
        super().__init__(message)
        self.field_errors = field_errors
        self.messages = messages


class JiraAdapter(TrackerAdapter):
    type = "jira"
    display_name = "Jira"

    GET_RETRIES = 2  # a read is tried at most 1 + GET_RETRIES times
    RETRY_BACKOFF = 0.5  # seconds, doubled each time
    MAX_RETRY_WAIT = 5.0  # a transient error asking for a longer Retry-After is left to the task's own retry
    CREATED_AFTER_MARGIN = timedelta(minutes=10)  # clock skew, and JQL dates have minutes only
    PAGE_SIZE = 100
    MAX_PAGES = 20
    KEYS_PER_QUERY = 100
    PROBE_LIMIT = 50  # issues read by key after a lost create, at most
    PROBE_MISSES = 3  # keys in a row that don't exist (deleted, or not yet created) end the probe
    PRIORITY_CACHE_SECONDS = 600.0

    def __init__(self, settings: Any):
        super().__init__(settings)
        self.base_url = normalise_base_url(settings.instance_url)
        self.cloud = bool((settings.email or "").strip())
        self.project_key = (settings.project_key or "").strip().upper()
        self.issue_type = (settings.issue_type or "").strip() or "Bug"
        self._client: JIRA | None = None
        self._zone: ZoneInfo | None = None

    # --- plumbing -----------------------------------------------------------------------------------------------

    @property
    def _deployment(self) -> str:
        return "Jira Cloud" if self.cloud else "Jira Data Center"

    def _settings_problem(self) -> str | None:
        scheme = urlsplit(self.base_url).scheme
        if not self.base_url or scheme not in ("http", "https") or not urlsplit(self.base_url).hostname:
            return ("Enter the address of your Jira site, such as https://your-site.atlassian.net (Cloud) or "
                    "https://jira.example.com (Data Center).")
        if not self.project_key:
            return "Enter the key of the Jira project (the prefix of its issue keys, such as SEC in SEC-123)."
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", self.project_key):
            return (f"{self.project_key!r} is not a Jira project key: it starts with a letter and has letters, "
                    "digits and underscores only (SEC in SEC-123).")
        if not self.settings.token:
            return f"Enter a token: {CLOUD_AUTH_HINT if self.cloud else DC_AUTH_HINT}."
        return None

    def _jira(self) -> JIRA:
        if self._client is None:
            problem = self._settings_problem()
            if problem:
                raise TrackerConfigError(problem)
            auth: dict[str, Any] = (
                {"basic_auth": (self.settings.email.strip(), self.settings.token)}
                if self.cloud else {"token_auth": self.settings.token}
            )
            library_log = logging.getLogger("jira")
            level = library_log.level
            try:
                client = JIRA(
                    server=self.base_url,
                    options={"rest_api_version": "3" if self.cloud else "2", "check_update": False,
                             "headers": {"User-Agent": "Certifai (python jira)"}},
                    get_server_info=False,
                    validate=False,
                    max_retries=0,
                    timeout=self.settings.timeout,
                    **auth,
                )
            finally:
                library_log.setLevel(level)
            # The library's Cloud-only methods (enhanced_search_issues) check this; we know it from the settings.
            client.deploymentType = "Cloud" if self.cloud else "Server"
            # Public addresses only (unless allowed), checked at connect time on every hop; writes never
            # redirected. The constructor made no request (no server info, no validation, no update check).
            netguard.guard_session(client._session, self.settings.allowed_hosts)
            self._client = client
        return self._client

    def _scrub(self, text: str) -> str:
        token = self.settings.token
        if not token:
            return text
        secrets = {token, quote(token, safe="")}
        if self.cloud:
            secrets.add(base64.b64encode(f"{self.settings.email.strip()}:{token}".encode()).decode())
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    @staticmethod
    def _retry_after(response: Any) -> float | None:
        headers = getattr(response, "headers", None)
        if not headers:
            return None
        value = headers.get("Retry-After")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                try:
                    return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
                except (TypeError, ValueError):
                    pass
        reset = headers.get("X-RateLimit-Reset")
        if reset:
            try:  # Cloud: ISO 8601, yyyy-MM-ddTHH:mmZ
                moment = datetime.fromisoformat(reset.strip().replace("Z", "+00:00"))
                moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
                return max(0.0, moment.timestamp() - time.time())
            except ValueError:
                try:
                    epoch = float(reset)
                except ValueError:
                    return None
                return max(0.0, epoch - time.time()) if epoch > 1_000_000_000 else max(0.0, epoch)
        return None

    def _jira_errors(self, response: Any) -> tuple[list[str], dict[str, str]]:
        """Jira's errorMessages and errors of an error response (never an HTML page), scrubbed."""
        try:
            data = response.json() if response is not None else None
        except ValueError:
            return [], {}
        if not isinstance(data, dict):
            return [], {}
        messages = data.get("errorMessages") or []
        messages = [self._scrub(str(m))[:300] for m in (messages if isinstance(messages, list) else [messages]) if m]
        errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
        errors = {str(k): self._scrub(str(v))[:300] for k, v in errors.items()}
        if not messages and not errors and data.get("message"):
            messages = [self._scrub(str(data["message"]))[:300]]
        return messages, errors

    def _translate(self, exc: Exception, action: str, write: bool) -> TrackerError:
        """One of our errors for a jira/requests error. Never quotes the exception itself."""
        if isinstance(exc, TrackerError):
            return exc
        refused = netguard.refusal_text(exc, "Jira", action)
        if refused:
            return TrackerConfigError(refused)
        if isinstance(exc, JIRAError):
            code = exc.status_code
            response = exc.response
            messages, errors = self._jira_errors(response)
            detail = "; ".join(messages + [f"{k}: {v}" for k, v in errors.items()])
            said = f": {detail}" if detail else ""
            if code is None:
                return TrackerTransientError(f"Jira gave an unexpected answer while trying to {action}.",
                                             outcome_unknown=write)
            if code == 401:
                hint = CLOUD_AUTH_HINT if self.cloud else DC_AUTH_HINT
                return TrackerAuthError(f"Jira rejected the credentials (401) while trying to {action}: {hint}.")
            if code == 403:
                return TrackerAuthError(
                    f"Jira refused to {action} (403): the account lacks a permission in project "
                    f"{self.project_key}{said}. Ask a Jira admin to check the project's permission scheme."
                )
            if code == 404:
                return JiraRequestError(f"Jira could not find what is needed to {action} (404){said}. Check the "
                                        f"project key {self.project_key} and the site address {self.base_url}.",
                                        errors, messages)
            if code == 429:
                retry_after = self._retry_after(response)
                wait = f"; retry after {retry_after:g}s" if retry_after is not None else ""
                return TrackerRateLimited(f"Jira's rate limit was reached while trying to {action}{wait}.",
                                          retry_after=retry_after)
            if code >= 500:
                # Even a gateway's 503 does not prove the write did not happen: look before filing again.
                return TrackerTransientError(f"Jira answered {code} while trying to {action}; try again later.",
                                             outcome_unknown=write)
            return JiraRequestError(f"Jira rejected the request to {action} ({code}){said}", errors, messages)
        if isinstance(exc, requests.exceptions.JSONDecodeError):
            return TrackerConfigError(f"Jira's answer to {action} was not JSON: is {self.base_url} the address of "
                                      "your Jira site?")
        if isinstance(exc, requests.exceptions.SSLError):
            return TrackerConfigError(f"The TLS certificate of {self.base_url} could not be verified.")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return TrackerTransientError(f"Could not connect to Jira at {self.base_url} in time to {action}.")
        if isinstance(exc, requests.exceptions.Timeout):
            return TrackerTransientError(
                f"Jira did not answer within {self.settings.timeout:g}s while trying to {action}"
                + ("; the change may have been made." if write else "."),
                outcome_unknown=write,
            )
        if isinstance(exc, requests.exceptions.ConnectionError):
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            never_sent = isinstance(reason, urllib3.exceptions.NewConnectionError)
            if never_sent:
                return TrackerTransientError(f"Could not reach Jira at {self.base_url} to {action}.")
            return TrackerTransientError(
                f"The connection to Jira broke while trying to {action}"
                + ("; the change may have been made." if write else "."),
                outcome_unknown=write,
            )
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            return TrackerTransientError(f"Jira's answer to {action} was cut off.", outcome_unknown=write)
        if isinstance(exc, requests.exceptions.TooManyRedirects | requests.exceptions.InvalidURL
                      | requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema):
            return TrackerConfigError(f"Invalid Jira address {self.base_url!r}.")
        if isinstance(exc, requests.exceptions.RequestException):
            return TrackerTransientError(f"The request to {action} failed ({type(exc).__name__}).",
                                         outcome_unknown=write)
        if isinstance(exc, ValueError):
            return TrackerConfigError(f"Jira's answer to {action} could not be read: is {self.base_url} the address "
                                      "of your Jira site?")
        raise exc

    def _call(self, action: str, fn: Callable[[], T], write: bool = False) -> T:
        """Run one library call; retry reads after transient errors; raise only TrackerErrors (unchained)."""
        attempts = 1 if write else 1 + self.GET_RETRIES
        for attempt in range(attempts):
            try:
                return fn()
            except (JIRAError, requests.exceptions.RequestException, ValueError) as exc:
                error = self._translate(exc, action, write)
                asked = self._retry_after(getattr(exc, "response", None))
            if isinstance(error, TrackerTransientError) and attempt + 1 < attempts:
                if asked is not None and asked > self.MAX_RETRY_WAIT:
                    raise error
                wait = max(self.RETRY_BACKOFF * 2**attempt, asked or 0.0)
                log.warning("Jira: %s (attempt %d of %d); retrying in %.1fs", error, attempt + 1, attempts, wait)
                time.sleep(wait)
                continue
            raise error
        raise AssertionError("unreachable")

    @staticmethod
    def _key(external_id: str) -> str:
        key = str(external_id).strip().upper()
        if not KEY_RE.match(key):
            raise TrackerConfigError(f"{external_id!r} is not a Jira issue key (such as SEC-123).")
        return key

    @staticmethod
    def _text(value: Any) -> str:
        if isinstance(value, dict):
            return adf_to_text(value)
        return value if isinstance(value, str) else ""

    def _to_external(self, raw: dict[str, Any]) -> ExternalIssue:
        fields = raw.get("fields") or {}
        key = str(raw.get("key") or "")
        status = fields.get("status") or {}
        category = (status.get("statusCategory") or {}).get("key")
        state = "closed" if category == "done" else "open"
        resolution = fields.get("resolution")
        resolution = resolution.get("name") if isinstance(resolution, dict) else None
        body = self._text(fields.get("description"))
        comments = (fields.get("comment") or {}).get("comments") if isinstance(fields.get("comment"), dict) else None
        if comments:
            body = "\n\n".join([body] + [self._text(c.get("body")) for c in comments if isinstance(c, dict)])
        return ExternalIssue(
            tracker="jira",
            external_id=key,
            title=fields.get("summary") or "",
            url=f"{self.base_url}/browse/{key}",
            status=status.get("name") or "",
            state=state,
            accepted_risk=state == "closed" and is_accepted_risk(resolution),
            created=_parse_time(fields.get("created")),
            body=body,
        )

    def _read(self, key: str, fields: Sequence[str] = ISSUE_FIELDS) -> dict[str, Any]:
        client = self._jira()
        issue = self._call(f"read issue {key}", lambda: client.issue(key, fields=",".join(fields)))
        return issue.raw

    @staticmethod
    def _category(raw: dict[str, Any]) -> str:
        return (((raw.get("fields") or {}).get("status") or {}).get("statusCategory") or {}).get("key") or ""

    # --- search ---------------------------------------------------------------------------------------------

    def _search(self, jql: str, fields: Sequence[str], limit: int | None = None, strict: bool = True,
                action: str = "search issues") -> list[dict[str, Any]]:
        """Raw issues matching `jql`, every page (Cloud: /search/jql and nextPageToken; DC: startAt)."""
        client = self._jira()
        found: list[dict[str, Any]] = []
        token: str | None = None
        start = 0
        for _ in range(self.MAX_PAGES):
            size = self.PAGE_SIZE if limit is None else max(1, min(self.PAGE_SIZE, limit - len(found)))
            if self.cloud:
                data = self._call(action, lambda token=token, size=size: client.enhanced_search_issues(
                    jql, nextPageToken=token, maxResults=size, fields=list(fields), json_result=True, use_post=True,
                ))
            else:
                data = self._call(action, lambda start=start, size=size: client.search_issues(
                    jql, startAt=start, maxResults=size, validate_query="strict" if strict else "warn",
                    fields=list(fields), json_result=True,
                ))
            issues = [i for i in (data.get("issues") or []) if isinstance(i, dict)]
            found += issues
            if limit is not None and len(found) >= limit:
                return found[:limit]
            if self.cloud:
                token = data.get("nextPageToken")
                if data.get("isLast") or not token:
                    break
            else:
                start += len(issues)
                total = data.get("total")
                if not issues or (total is not None and start >= int(total)):
                    break
        return found

    def _user_zone(self) -> ZoneInfo | None:
        """JQL dates are read in the searching user's time zone (GET /myself timeZone)."""
        if self._zone is None:
            client = self._jira()
            me = self._call("read the account's time zone", client.myself)
            try:
                self._zone = ZoneInfo(str(me.get("timeZone") or "UTC"))
            except (ZoneInfoNotFoundError, ValueError):
                return None
        return self._zone

    def _jql_time(self, moment: datetime) -> str:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        zone = self._user_zone()
        if zone is None:  # unknown zone: UTC, widened by the largest offset there is
            return (moment.astimezone(UTC) - timedelta(hours=14)).strftime("%Y/%m/%d %H:%M")
        return moment.astimezone(zone).strftime("%Y/%m/%d %H:%M")

    # --- priorities and issue types -------------------------------------------------------------------------

    def _priority_for(self, severity: str) -> str | None:
        now = time.monotonic()
        with _PRIORITY_LOCK:
            cached = _PRIORITY_CACHE.get(self.base_url)
        if cached is None or now - cached[0] > self.PRIORITY_CACHE_SECONDS:
            client = self._jira()
            try:
                items = self._call("list the priorities", client.priorities)
            except JiraRequestError as exc:  # no list to choose from: file without a priority
                log.warning("Jira: could not list priorities (%s); issues get the default priority", exc)
                items = []
            names = {str(p.raw.get("name")).lower(): str(p.raw.get("name")) for p in items if p.raw.get("name")}
            cached = (now, names)
            with _PRIORITY_LOCK:
                _PRIORITY_CACHE[self.base_url] = cached
        for candidate in PRIORITY_BY_SEVERITY.get(severity, ()):
            if candidate.lower() in cached[1]:
                return cached[1][candidate.lower()]
        return None

    def _issue_types(self) -> list[dict[str, Any]]:
        """Issue types the account can create in the project (createmeta; the project's list on old DC)."""
        client = self._jira()
        action = f"list the issue types of project {self.project_key}"
        try:
            # The library's project_issue_types() refuses Cloud (it predates Cloud's createmeta pages).
            data = self._call(action, lambda: client._get_json(
                f"issue/createmeta/{quote(self.project_key)}/issuetypes", params={"maxResults": 200}))
        except JiraRequestError:
            project = self._call(action, lambda: client.project(self.project_key))
            return [t for t in (project.raw.get("issueTypes") or []) if isinstance(t, dict)]
        items = (data.get("issueTypes") or data.get("values") or []) if isinstance(data, dict) else []
        return [t for t in items if isinstance(t, dict)]

    def _create_fields(self, type_id: str) -> list[dict[str, Any]]:
        client = self._jira()
        data = self._call(f"list the fields of issue type {self.issue_type}", lambda: client._get_json(
            f"issue/createmeta/{quote(self.project_key)}/issuetypes/{quote(str(type_id))}",
            params={"maxResults": 200}))
        if not isinstance(data, dict):
            return []
        items = data.get("fields") or data.get("values") or data.get("results") or []
        return [f for f in items if isinstance(f, dict)]

    def _issue_type_error(self, said: str) -> TrackerConfigError:
        try:
            names = [str(t.get("name")) for t in self._issue_types() if not t.get("subtask")]
        except TrackerError:
            names = []
        available = f" Available: {', '.join(names)}." if names else ""
        return TrackerConfigError(
            f"Jira project {self.project_key} has no issue type {self.issue_type!r} that this account can create "
            f"(Jira: {said}).{available} Set the issue type to one of them."
        )

    # --- the interface ----------------------------------------------------------------------------------------

    def check_connection(self) -> ConnectionResult:
        problem = self._settings_problem()
        if problem:
            return ConnectionResult(False, problem)
        if not self.cloud and (urlsplit(self.base_url).hostname or "").endswith(".atlassian.net"):
            return ConnectionResult(False, f"{self.base_url} is Jira Cloud: enter the email, and {CLOUD_AUTH_HINT}.")
        client = self._jira()
        me = self._call("read the account (GET /myself)", client.myself)
        who = str(me.get("displayName") or me.get("emailAddress") or me.get("name") or "the account")
        info = self._call("read the server information", client.server_info)
        deployment = info.get("deploymentType") if isinstance(info, dict) else None
        if deployment == "Cloud" and not self.cloud:
            return ConnectionResult(False, f"{self.base_url} is Jira Cloud: {CLOUD_AUTH_HINT}.")
        if deployment in ("Server", "DataCenter") and self.cloud:
            return ConnectionResult(False, f"{self.base_url} is Jira Data Center or Server: {DC_AUTH_HINT}.")

        try:
            project = self._call(f"read project {self.project_key}", lambda: client.project(self.project_key)).raw
        except JiraRequestError:
            return ConnectionResult(False, f"Jira project {self.project_key} was not found on {self.base_url}, or "
                                           f"{who} cannot browse it: check the project key (SEC in SEC-123).")
        name = project.get("name") or self.project_key

        permissions = self._call(
            f"read {who}'s permissions in {self.project_key}",
            lambda: client.my_permissions(projectKey=self.project_key, permissions=",".join(PERMISSIONS)),
        ).get("permissions") or {}

        def has(permission: str) -> bool:
            return bool((permissions.get(permission) or {}).get("havePermission"))

        if not has("CREATE_ISSUES"):
            return ConnectionResult(False, f"{who} may not create issues in {self.project_key} (Jira permission "
                                           "'Create Issues'): ask a Jira admin to grant it in the project's "
                                           "permission scheme.")

        types = self._issue_types()
        kind = next((t for t in types if str(t.get("name", "")).lower() == self.issue_type.lower()), None)
        if kind is None:
            names = ", ".join(str(t.get("name")) for t in types if not t.get("subtask")) or "none"
            return ConnectionResult(False, f"Project {self.project_key} has no issue type {self.issue_type!r} that "
                                           f"{who} can create. Available: {names}. Set the issue type to one of them.")
        try:
            fields = self._create_fields(str(kind.get("id")))
        except JiraRequestError:  # Data Center before 8.4 has no createmeta pages: skip the field checks
            fields = []
        field_ids = {str(f.get("fieldId") or f.get("key") or "") for f in fields}
        missing = [str(f.get("name") or f.get("fieldId")) for f in fields
                   if f.get("required") and not f.get("hasDefaultValue")
                   and str(f.get("fieldId") or f.get("key")) not in FILLED_FIELDS]
        if missing:
            return ConnectionResult(False, f"Issue type {kind.get('name')} in {self.project_key} requires fields "
                                           f"Certifai does not fill: {', '.join(missing)}. Make them optional or give "
                                           "them a default value, or choose another issue type.")
        if fields and "labels" not in field_ids:
            return ConnectionResult(False, f"The create screen of {kind.get('name')} in {self.project_key} has no "
                                           "Labels field: Certifai labels its issues to find them again. Ask a Jira "
                                           "admin to add Labels to that screen.")
        notes = []
        if not has("TRANSITION_ISSUES"):
            notes.append("it may not transition issues (permission 'Transition Issues'), so Certifai can't close or "
                         "reopen them")
        if not has("ADD_COMMENTS"):
            notes.append("it may not comment (permission 'Add Comments')")
        if fields and "priority" not in field_ids:
            notes.append("Priority is not on the create screen, so issues get the default priority")
        message = (f"Connected to {self._deployment} as {who}: Certifai can create {kind.get('name')} issues in "
                   f"{self.project_key} ({name}).")
        if notes:
            message += " But " + "; ".join(notes) + "."
        return ConnectionResult(True, message)

    def create_issue(self, content: IssueContent) -> ExternalIssue:
        client = self._jira()
        body = description(content, adf=self.cloud)
        fields: dict[str, Any] = {
            "project": {"key": self.project_key},
            "summary": jira_summary(content),
            "issuetype": {"name": self.issue_type},
            "labels": jira_labels(content, tuple(self.settings.labels)),
            "description": body,
        }
        priority = self._priority_for(content.severity)
        if priority:
            fields["priority"] = {"name": priority}
        action = f"create an issue in project {self.project_key}"
        while True:
            try:
                created = self._call(action, lambda: client.create_issue(fields=dict(fields), prefetch=False),
                                     write=True)
                break
            except JiraRequestError as error:
                problems = error.field_errors
                if "priority" in fields and "priority" in problems:
                    # A 400 means nothing was created: filing again without the priority is safe.
                    log.info("Jira refused the priority %r (%s); filing without one", priority, problems["priority"])
                    del fields["priority"]
                    continue
                if "issuetype" in problems:
                    raise self._issue_type_error(problems["issuetype"]) from None
                if "labels" in problems and "cannot be set" in problems["labels"]:
                    raise TrackerConfigError(
                        f"The create screen of {self.issue_type} in {self.project_key} has no Labels field: "
                        "Certifai labels its issues to find them again. Ask a Jira admin to add Labels to it."
                    ) from None
                raise
        key = str(created.raw.get("key") or getattr(created, "key", ""))
        try:
            return self.get_issue(key)
        except TrackerError as exc:  # filed; the answer to the read-back was lost: say what we know
            log.warning("Jira: filed %s but could not read it back: %s", key, exc)
            return ExternalIssue(tracker="jira", external_id=key, title=fields["summary"],
                                 url=f"{self.base_url}/browse/{key}", status="", state="open",
                                 created=datetime.now(UTC), body=self._text(body))

    def get_issue(self, external_id: str) -> ExternalIssue:
        return self._to_external(self._read(self._key(external_id)))

    def _transitions(self, key: str) -> list[dict[str, Any]]:
        client = self._jira()
        items = self._call(f"list the transitions of {key}",
                           lambda: client.transitions(key, expand="transitions.fields"))
        # Cloud lists only transitions the issue can take now; skip any that say otherwise.
        return [t for t in items if isinstance(t, dict) and t.get("isAvailable") is not False]

    @staticmethod
    def _target_category(transition: dict[str, Any]) -> str:
        return ((transition.get("to") or {}).get("statusCategory") or {}).get("key") or ""

    @staticmethod
    def _describe(transitions: list[dict[str, Any]]) -> str:
        if not transitions:
            return "none is available to this account"
        return ", ".join(
            f"'{t.get('name')}' to '{(t.get('to') or {}).get('name')}' "
            f"({((t.get('to') or {}).get('statusCategory') or {}).get('key') or '?'})"
            for t in transitions
        )

    def _transition(self, key: str, transition: dict[str, Any], fields: dict[str, Any]) -> None:
        client = self._jira()
        target = (transition.get("to") or {}).get("name")
        self._call(
            f"move {key} to '{target}' (transition '{transition.get('name')}')",
            lambda: client.transition_issue(key, str(transition.get("id")), fields=fields),
            write=True,
        )

    def reopen_issue(self, external_id: str, comment: str) -> ExternalIssue:
        key = self._key(external_id)
        raw = self._read(key, ["status"])
        if self._category(raw) == "done":
            transitions = self._transitions(key)
            chosen = next((t for t in transitions if self._target_category(t) == "new"), None) or next(
                (t for t in transitions if self._target_category(t) == "indeterminate"), None)
            if chosen is None:
                status = ((raw.get("fields") or {}).get("status") or {}).get("name")
                raise TrackerConfigError(
                    f"Jira issue {key} is in status '{status}' and no transition leads back to an open status "
                    f"(transitions: {self._describe(transitions)}). Ask a Jira admin to add one to the workflow, "
                    "or to grant the permission 'Transition Issues'."
                )
            self._transition(key, chosen, {})
        if comment:
            self.comment(key, comment)
        return self.get_issue(key)

    @staticmethod
    def _choose_resolution(field: dict[str, Any], accepted_risk: bool) -> tuple[dict[str, str], str]:
        """The resolution to set on a close screen (Jira's value, and its normalised name)."""
        allowed = [v for v in (field.get("allowedValues") or []) if isinstance(v, dict) and v.get("name")]
        if not allowed:
            name = "Won't Do" if accepted_risk else "Done"
            return {"name": name}, resolution_name(name)

        def ref(value: dict[str, Any]) -> tuple[dict[str, str], str]:
            name = resolution_name(str(value["name"]))
            return ({"id": str(value["id"])} if value.get("id") else {"name": str(value["name"])}), name

        def pick(names: tuple[str, ...]) -> tuple[dict[str, str], str] | None:
            for wanted in names:
                for value in allowed:
                    if resolution_name(str(value["name"])) == wanted:
                        return ref(value)
            return None

        if accepted_risk:
            choice = pick(ACCEPTED_RISK_RESOLUTIONS) or pick(("not planned", "declined", "rejected"))
            if choice:
                return choice
            log.warning("Jira: no Won't Do / Won't Fix resolution on this screen; closing as fixed")
        choice = pick(FIXED_RESOLUTIONS)
        if choice:
            return choice
        usual = [v for v in allowed if resolution_name(str(v["name"])) not in NOT_FIXED_RESOLUTIONS]
        return ref((usual or allowed)[0])

    def _choose_close(self, candidates: list[dict[str, Any]],
                      accepted_risk: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """The done-category transition that says best why the issue closes, and the fields to send with it.

        Preferred: a screen with a resolution field offering the right value (Done/Fixed, or Won't Do/Won't Fix
        for an accepted risk); then any resolution field; names only break ties (never ids or names hard-coded).
        """

        def plan(transition: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            field = (transition.get("fields") or {}).get("resolution")
            fields: dict[str, Any] = {}
            score = 0
            if isinstance(field, dict):
                value, name = self._choose_resolution(field, accepted_risk)
                fields["resolution"] = value
                fits = name in (ACCEPTED_RISK_RESOLUTIONS if accepted_risk else FIXED_RESOLUTIONS)
                score += 4 if fits else 1
            # A screen asking for more than a resolution (a required field without default) would refuse us.
            others = [f for name, f in (transition.get("fields") or {}).items() if name != "resolution"
                      and isinstance(f, dict) and f.get("required") and not f.get("hasDefaultValue")]
            if others:
                score -= 10
            label = f"{transition.get('name', '')} {(transition.get('to') or {}).get('name', '')}".lower()
            sounds_declined = any(word in label for word in ACCEPTED_RISK_WORDS)
            if accepted_risk and sounds_declined:
                score += 2
            elif not accepted_risk and (sounds_declined or "duplicate" in label or "cancel" in label):
                score -= 3
            return score, fields

        plans = [(plan(t), t) for t in candidates]
        (_, fields), chosen = max(plans, key=lambda item: item[0][0])
        return chosen, fields

    def close_issue(self, external_id: str, comment: str, accepted_risk: bool = False) -> ExternalIssue:
        key = self._key(external_id)
        raw = self._read(key, ["status"])
        if self._category(raw) != "done":
            transitions = self._transitions(key)
            candidates = [t for t in transitions if self._target_category(t) == "done"]
            if not candidates:
                status = ((raw.get("fields") or {}).get("status") or {}).get("name")
                raise TrackerConfigError(
                    f"Jira issue {key} is in status '{status}' and no transition leads to a done status "
                    f"(transitions: {self._describe(transitions)}). Ask a Jira admin to add one to the workflow, "
                    "or to grant the permission 'Transition Issues'."
                )
            chosen, fields = self._choose_close(candidates, accepted_risk)
            self._transition(key, chosen, fields)
        if comment:
            self.comment(key, comment)
        return self.get_issue(key)

    def comment(self, external_id: str, body: str) -> None:
        key = self._key(external_id)
        if not (body or "").strip():
            return  # Jira refuses an empty comment
        client = self._jira()
        text = comment_body(body, adf=self.cloud)
        self._call(f"comment on {key}", lambda: client.add_comment(key, text), write=True)

    def find_issue(self, fingerprint: str, created_after: datetime | None = None) -> ExternalIssue | None:
        fingerprint = fingerprint.strip()
        if not fingerprint:
            return None
        action = "look for Certifai's issue"
        project = f"project = {_jql_string(self.project_key)}"
        seen: set[str] = set()
        since: str | None = None
        if created_after is not None:
            # Issues Certifai filed since the work was claimed (search: may lag a little behind).
            since = self._jql_time(created_after - self.CREATED_AFTER_MARGIN)
            jql = f"{project} AND labels = {_jql_string(CERTIFAI_LABEL)} AND created >= {_jql_string(since)} " \
                  "ORDER BY created ASC"
            for raw in self._search(jql, ISSUE_FIELDS, action=action):
                issue = self._to_external(raw)
                if has_marker(issue.body, fingerprint):
                    return issue
                seen.add(issue.external_id)
        # Older issues, by the fingerprint's text (description or a comment); the marker decides. No label filter:
        # a person may have removed ours.
        jql = f"{project} AND text ~ {_jql_string(fingerprint)} ORDER BY created ASC"
        for raw in self._search(jql, ISSUE_FIELDS, limit=self.PAGE_SIZE * 5, action=action):
            issue = self._to_external(raw)
            if has_marker(issue.body, fingerprint):
                return issue
        if since is not None:
            return self._probe(fingerprint, since, seen)
        return None

    def _probe(self, fingerprint: str, since: str, seen: set[str]) -> ExternalIssue | None:
        """Read by key (consistent) the issues created after the last one search knows from before `since`."""
        jql = f"project = {_jql_string(self.project_key)} AND created < {_jql_string(since)} ORDER BY key DESC"
        anchor = self._search(jql, ["created"], limit=1, action="find the project's last issue")
        number = 0
        if anchor:
            tail = str(anchor[0].get("key") or "").rsplit("-", 1)[-1]
            number = int(tail) if tail.isdigit() else 0
        misses = 0
        for _ in range(self.PROBE_LIMIT):
            number += 1
            key = f"{self.project_key}-{number}"
            if key in seen:
                misses = 0
                continue
            try:
                issue = self._to_external(self._read(key))
            except JiraRequestError:  # no such issue (deleted, or not created yet)
                misses += 1
                if misses >= self.PROBE_MISSES:
                    break
                continue
            misses = 0
            if has_marker(issue.body, fingerprint):
                return issue
        return None

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> ExternalIssue | None:
        # Admin webhooks with a secret are signed (WebSub style): X-Hub-Signature: sha256=<hex HMAC of the body>.
        if not hmac_sha256_matches(secret, body, headers.get("x-hub-signature"), prefix="sha256="):
            raise WebhookSignatureError("X-Hub-Signature does not match this repository's webhook secret")
        payload = webhook_json(body)
        issue = payload.get("issue")
        if not str(payload.get("webhookEvent", "")).startswith("jira:issue_") or not isinstance(issue, dict):
            return None
        return self._to_external(issue)

    def list_issues(self, external_ids: Sequence[str]) -> list[ExternalIssue]:
        keys: list[str] = []
        for external_id in external_ids:
            key = str(external_id).strip().upper()
            if KEY_RE.match(key) and key not in keys:
                keys.append(key)
        found: dict[str, ExternalIssue] = {}
        for start in range(0, len(keys), self.KEYS_PER_QUERY):
            remaining = keys[start : start + self.KEYS_PER_QUERY]
            while remaining:
                jql = f"key in ({', '.join(remaining)})"
                try:
                    rows = self._search(jql, LIST_FIELDS, strict=False, action=f"read {len(remaining)} issues")
                except JiraRequestError as error:
                    # Jira refuses the whole query for a key that doesn't exist (any more): drop those, ask again.
                    gone = {k.upper() for m in error.messages for k in re.findall(r"key '([^']+)'", m)}
                    if not gone & set(remaining):
                        raise
                    remaining = [k for k in remaining if k not in gone]
                    continue
                for raw in rows:
                    issue = self._to_external(raw)
                    found[issue.external_id] = issue
                break
        moved = [issue for key, issue in found.items() if key not in keys]  # moved issues keep their new key
        return [found[key] for key in keys if key in found] + moved


__all__ = ["JiraAdapter", "is_accepted_risk", "normalise_base_url"]
