"""Gitea adapter: REST API v1 (https://docs.gitea.com/development/api-usage) spoken with `requests`.

Decisions, each for a documented Gitea behaviour:

- Auth: only the `Authorization: token …` header. The `token=` query parameter is deprecated and would put the token
  in every URL, hence in exception texts and access logs. The header is set by an `AuthBase`, so `requests` neither
  reads ~/.netrc over it nor sends it along a redirect to another host. Writes never follow redirects.
- Retries: urllib3 `Retry` for GET only (502/503/504 and read errors, twice). POST/PATCH are never retried: a
  retried POST can file an issue twice. Connection *establishment* errors are retried for every method (nothing was
  sent). 429 is never slept on here (`respect_retry_after_header=False`): it becomes `TrackerRateLimited`.
- Labels: issues take label **ids**; Gitea silently drops unknown ids and lets two labels share a name, so the
  adapter lists the repository's labels (all pages) and creates only the missing ones, once per adapter instance.
- Listing: pages of 50 (MAX_RESPONSE_ITEMS, Gitea's default cap). The adapter follows `X-Total-Count` (or `Link`)
  itself instead of trusting a short page, because an admin may have lowered the cap, and never follows the `Link`
  URL, which is built on the server's ROOT_URL and may point at another host.
- find_issue: `q` goes through Gitea's issue indexer, which lags behind writes. With `created_after`, the adapter
  first lists `labels=certifai&type=issues&state=all&since=<created_after - margin>` (a database query,
  consistent; `since` filters on the update time, which is never before creation; the margin absorbs clock skew)
  and reads the marker in the bodies. Then it searches `q=<fingerprint>` and verifies the marker (body first, then
  the comments of the first hits, where Certifai writes a moved finding's new fingerprint).
- list_issues: one listing of our issues (`labels=certifai`, `state=all`, 50 a page) filtered by number, stopping
  as soon as every id is found; ids not found that way (label removed by a person, or gone) are fetched one by one,
  and those Gitea answers 404 for are left out. One or two ids are simply fetched.
- Close reasons: Gitea has none. Closing as accepted risk adds the label `accepted-risk`; a closed issue labelled
  accepted-risk, wontfix, won't fix, "Reviewed/Won't Fix" or not planned (any case) counts as accepted risk.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import urllib3
from urllib3.util.retry import Retry

from .. import netguard
from .base import (
    CERTIFAI_LABEL,
    SEVERITIES,
    ConnectionResult,
    ExternalIssue,
    IssueContent,
    TrackerAdapter,
    TrackerAuthError,
    TrackerConfigError,
    TrackerError,
    TrackerRateLimited,
    TrackerSettings,
    TrackerTransientError,
    WebhookSignatureError,
    has_marker,
    hmac_sha256_matches,
    webhook_json,
)
from .content import issue_labels, markdown_body, severity_label

logger = logging.getLogger(__name__)

PAGE_SIZE = 50  # Gitea's default MAX_RESPONSE_ITEMS
MAX_PAGES = 400  # 20,000 issues: a bound, so a misbehaving server can't keep us paging forever
SEARCH_PAGES = 2
COMMENT_CHECKS = 5  # search hits whose comments are read when their body lacks the marker
DIRECT_FETCH_MAX = 2  # list_issues: up to this many ids, one GET each beats listing every page
FIND_MARGIN = timedelta(minutes=10)  # clock skew between Certifai and Gitea, and second-granular timestamps

ACCEPTED_RISK_LABEL = "accepted-risk"
_ACCEPTED_RISK_NAMES = {
    "accepted-risk",
    "accepted risk",
    "wontfix",
    "wont fix",
    "won't fix",
    "won't-fix",
    "wont-fix",
    "not planned",
    "not-planned",
    "won't do",
    "wont do",
}
AUTH_HINT = "create an access token with the write:issue and read:repository scopes"

_SEVERITY_COLORS = {"critical": "#b60205", "high": "#d93f0b", "medium": "#fbca04", "low": "#0e8a16", "info": "#1d76db"}
_LABEL_STYLE: dict[str, tuple[str, str]] = {
    CERTIFAI_LABEL: ("#5319e7", "Security finding filed by Certifai"),
    ACCEPTED_RISK_LABEL: ("#cfd3d7", "Risk accepted in Certifai: closed without a fix"),
    **{severity_label(s): (_SEVERITY_COLORS[s], f"Certifai severity: {s}") for s in SEVERITIES},
}
_DEFAULT_LABEL_STYLE = ("#c5def5", "")


class _TokenAuth(requests.auth.AuthBase):
    """`Authorization: token …` (https://docs.gitea.com/development/api-usage#authentication)."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"token {self._token}"
        return request

    def __repr__(self) -> str:
        return "<gitea token auth>"


class _NotFound(TrackerConfigError):
    """A 404: the repository or the issue is unknown (or invisible to the token's user)."""


def _build_session(token: str, allowed_hosts: Sequence[str] = ()) -> requests.Session:
    session = requests.Session()
    session.auth = _TokenAuth(token)
    session.headers.update({"Accept": "application/json", "User-Agent": "Certifai (Gitea adapter)"})
    retry = Retry(
        total=2,
        connect=2,
        read=2,
        status=2,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=(502, 503, 504),
        backoff_factor=0.2,
        respect_retry_after_header=False,
        raise_on_status=False,
    )
    # Public addresses only (unless allowed), checked at connect time on every hop; writes never redirected.
    return netguard.guard_session(session, allowed_hosts, max_retries=retry)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _norm_label(name: str) -> str:
    return name.strip().lower().replace("\u2019", "'")


def is_accepted_risk_label(name: str) -> bool:
    """accepted-risk, wontfix, won't fix, not planned…; a scoped label ("Reviewed/Won't Fix") by its last part."""
    normalized = _norm_label(name)
    return normalized in _ACCEPTED_RISK_NAMES or _norm_label(normalized.rsplit("/", 1)[-1]) in _ACCEPTED_RISK_NAMES


def _request_was_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """False when the connection could not even be opened (nothing reached Gitea)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    return not isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


class GiteaAdapter(TrackerAdapter):
    type = "gitea"
    display_name = "Gitea"

    def __init__(self, settings: TrackerSettings):
        super().__init__(settings)
        base = (settings.instance_url or "").strip().rstrip("/")
        base = re.sub(r"/api/v1$", "", base)
        self._base = base
        self._api = base + "/api/v1"
        parts = urlsplit(base)
        self._host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "") if parts.hostname else base
        owner, _, name = (settings.repository or "").strip().strip("/").partition("/")
        self._owner, self._name = owner, name
        self._repo_path = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        self._session = _build_session(settings.token, settings.allowed_hosts)
        self._label_ids_by_name: dict[str, int] = {}  # names we resolved or created, for this instance's lifetime

    # --- configuration ------------------------------------------------------------------------

    @property
    def repository(self) -> str:
        return f"{self._owner}/{self._name}"

    def _config_problem(self) -> str | None:
        parts = urlsplit(self._base)
        if not self._base or parts.scheme not in ("http", "https") or not parts.netloc:
            return "Set the Gitea instance URL, for example https://gitea.example.com."
        if not self._owner or not self._name or "/" in self._name:
            return "Set the Gitea repository as owner/name, for example acme/webapp."
        if not self.settings.token:
            return f"Set a Gitea access token: {AUTH_HINT}."
        return None

    def _check_config(self) -> None:
        problem = self._config_problem()
        if problem:
            raise TrackerConfigError(problem)

    # --- HTTP ---------------------------------------------------------------------------------

    def _clean(self, text: Any, limit: int = 300) -> str:
        """Gitea's message, shortened, with the token masked should a server ever echo it."""
        message = " ".join(str(text or "").split())
        if self.settings.token:
            message = message.replace(self.settings.token, "***")
        return message if len(message) <= limit else message[: limit - 1] + "…"

    def _message(self, response: requests.Response) -> str:
        """Gitea's APIError `message` (a proxy's HTML page is not worth quoting)."""
        try:
            data = response.json()
        except ValueError:
            return ""
        if isinstance(data, dict) and data.get("message"):
            return self._clean(data["message"])
        return ""

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
        not_found: str | None = None,
    ) -> requests.Response:
        """One request; every failure becomes a TrackerError whose text we wrote (no URL, no token)."""
        self._check_config()
        write = method != "GET"
        try:
            response = self._session.request(
                method,
                self._api + path,
                params=params,
                json=json,
                timeout=self.settings.timeout,
                allow_redirects=not write,
            )
        except (netguard.AddressRefused, netguard.RedirectRefused) as exc:
            raise TrackerConfigError(netguard.refusal_text(exc, "Gitea", what)) from None
        except requests.exceptions.SSLError:
            raise TrackerConfigError(
                f"Could not {what}: the TLS connection to {self._host} failed (certificate not trusted?)."
            ) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
            raise TrackerConfigError(f"Could not {what}: the Gitea instance URL is not valid.") from None
        except requests.exceptions.ConnectionError as exc:
            sent = write and _request_was_sent(exc)
            detail = "the connection was lost" if _request_was_sent(exc) else "could not connect"
            raise TrackerTransientError(
                f"Could not {what}: {detail} to {self._host}"
                + (" after sending the request; it may have been carried out." if sent else "."),
                outcome_unknown=sent,
            ) from None
        except requests.exceptions.Timeout as exc:
            sent = write and not isinstance(exc, requests.exceptions.ConnectTimeout)
            raise TrackerTransientError(
                f"Could not {what}: {self._host} did not answer within {self.settings.timeout:g} s"
                + ("; the request may have been carried out." if sent else "."),
                outcome_unknown=sent,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise TrackerTransientError(
                f"Could not {what}: {type(exc).__name__} talking to {self._host}.", outcome_unknown=write
            ) from None

        status = response.status_code
        logger.debug("Gitea %s %s -> %s", method, path, status)
        if status < 300:
            return response
        message = self._message(response)
        if status == 401:
            raise TrackerAuthError(f"Gitea rejected the token (401): {AUTH_HINT}.")
        if status == 403:
            if "scope" in message.lower():
                raise TrackerAuthError(f"Gitea refused the token (403: {message}): {AUTH_HINT}.")
            raise TrackerAuthError(
                f"Gitea refused to {what} (403: {message or 'forbidden'}): the token's user needs write access to "
                f"the issues of {self.repository}."
            )
        if status == 404:
            raise _NotFound(not_found or self._repo_not_found())
        if status == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            wait = f" Retry after {retry_after:g} s." if retry_after is not None else ""
            raise TrackerRateLimited(f"Gitea (or a proxy in front of it) asked to slow down (429).{wait}", retry_after)
        if status >= 500:
            raise TrackerTransientError(
                f"Could not {what}: Gitea answered {status}"
                + (f" ({message})" if message else "")
                + ("; the request may have been carried out." if write else "."),
                outcome_unknown=write,
            )
        if 300 <= status < 400:
            raise TrackerConfigError(
                f"Could not {what}: Gitea redirected the request ({status}); check the instance URL and the "
                f"repository name (was {self.repository} renamed or moved?)."
            )
        if status == 422:
            raise TrackerConfigError(f"Gitea rejected the request to {what} (422): {message}")
        if status == 423:
            raise TrackerConfigError(f"Could not {what}: the repository {self.repository} is archived on Gitea.")
        raise TrackerConfigError(f"Could not {what}: Gitea answered {status}" + (f": {message}" if message else "."))

    def _json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise TrackerConfigError(
                f"Could not {what}: {self._host} did not answer with Gitea API JSON; check the instance URL."
            ) from None

    def _get(self, path: str, what: str, params: dict[str, Any] | None = None, not_found: str | None = None) -> Any:
        return self._json(self._call("GET", path, what=what, params=params, not_found=not_found), what)

    def _send(self, method: str, path: str, what: str, body: Any, not_found: str | None = None) -> Any:
        response = self._call(method, path, what=what, json=body, not_found=not_found)
        return self._json(response, what) if response.content else None

    def _pages(self, path: str, params: dict[str, Any], what: str, max_pages: int = MAX_PAGES) -> Iterator[dict]:
        """Every item of a paginated list, page by page (Gitea: `page` 1-based, `limit`, `X-Total-Count`)."""
        seen = 0
        for page in range(1, max_pages + 1):
            response = self._call("GET", path, what=what, params={**params, "limit": PAGE_SIZE, "page": page})
            items = self._json(response, what)
            if not isinstance(items, list):
                raise TrackerConfigError(f"Could not {what}: Gitea answered something other than a list.")
            yield from (item for item in items if isinstance(item, dict))
            seen += len(items)
            if not items:
                return
            total = response.headers.get("X-Total-Count", "")
            if total.isdigit():
                if seen >= int(total):
                    return
            elif 'rel="next"' not in response.headers.get("Link", "") and len(items) < PAGE_SIZE:
                return

    def _repo_not_found(self) -> str:
        return (
            f"Gitea repository {self.repository} not found on {self._host}, or the token's user can't see it, "
            "or its issues are disabled."
        )

    def _issue_path(self, number: int) -> str:
        return f"{self._repo_path}/issues/{number}"

    def _issue_not_found(self, number: int) -> str:
        return f"Gitea issue #{number} not found in {self.repository} (or the repository is gone)."

    @staticmethod
    def _number(external_id: str) -> int:
        text = str(external_id).strip().lstrip("#")
        if not text.isdigit() or int(text) <= 0:
            raise TrackerConfigError(f"{external_id!r} is not a Gitea issue number.")
        return int(text)

    # --- values -------------------------------------------------------------------------------

    def _to_issue(self, data: dict[str, Any]) -> ExternalIssue:
        status = str(data.get("state") or "open")
        closed = status == "closed"
        names = [str(label.get("name", "")) for label in data.get("labels") or [] if isinstance(label, dict)]
        return ExternalIssue(
            tracker=self.type,
            external_id=str(data.get("number")),
            title=str(data.get("title") or ""),
            url=str(data.get("html_url") or ""),
            status=status,
            state="closed" if closed else "open",
            accepted_risk=closed and any(is_accepted_risk_label(name) for name in names),
            created=_parse_time(data.get("created_at")),
            body=str(data.get("body") or ""),
        )

    # --- labels -------------------------------------------------------------------------------

    def _label_ids(self, names: Sequence[str]) -> list[int]:
        """Ids for label names: looked up (all pages) and the missing ones created, once per adapter instance."""
        wanted = list(dict.fromkeys(name for name in names if name))
        missing = [name for name in wanted if name not in self._label_ids_by_name]
        if missing:
            what = f"read the labels of {self.repository}"
            existing = sorted(
                (label for label in self._pages(f"{self._repo_path}/labels", {}, what) if "id" in label),
                key=lambda label: label["id"],
            )
            for name in missing:
                exact = [label for label in existing if label.get("name") == name]
                loose = [label for label in existing if _norm_label(str(label.get("name", ""))) == _norm_label(name)]
                if exact or loose:
                    self._label_ids_by_name[name] = int((exact or loose)[0]["id"])
            for name in missing:
                if name not in self._label_ids_by_name:
                    color, description = _LABEL_STYLE.get(name, _DEFAULT_LABEL_STYLE)
                    created = self._send(
                        "POST",
                        f"{self._repo_path}/labels",
                        f"create the label {name!r} in {self.repository}",
                        {"name": name, "color": color, "description": description},
                    )
                    if not isinstance(created, dict) or not isinstance(created.get("id"), int):
                        raise TrackerConfigError(f"Gitea answered the creation of the label {name!r} without it.")
                    self._label_ids_by_name[name] = created["id"]
                    logger.info("Created Gitea label %r in %s", name, self.repository)
        return [self._label_ids_by_name[name] for name in wanted]

    def _repair_labels(self, data: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
        """Gitea silently drops label ids it doesn't know (a label deleted since we cached it) and all labels of a
        user who may not write issues. Put ours back, best effort: the issue exists, so never raise from here."""
        have = {label.get("id") for label in data.get("labels") or [] if isinstance(label, dict)}
        lost = [name for name in names if self._label_ids_by_name.get(name) not in have]
        if not lost:
            return data
        for name in lost:
            self._label_ids_by_name.pop(name, None)
        number = int(data["number"])
        try:
            labels = self._send(
                "POST",
                f"{self._issue_path(number)}/labels",
                f"label issue #{number} in {self.repository}",
                {"labels": self._label_ids(lost)},
            )
        except TrackerError as exc:
            logger.warning("Gitea issue #%s in %s lacks labels %s: %s", number, self.repository, lost, exc)
            return data
        return {**data, "labels": labels if isinstance(labels, list) else data.get("labels")}

    # --- operations ---------------------------------------------------------------------------

    def check_connection(self) -> ConnectionResult:
        problem = self._config_problem()
        if problem:
            return ConnectionResult(False, problem)
        login = ""
        try:
            user = self._get("/user", f"read the token's user on {self._host}")
            login = str(user.get("login") or "") if isinstance(user, dict) else ""
        except TrackerAuthError as exc:
            if "scope" not in str(exc).lower():  # a scope 403 proves the token valid: read:user is optional
                raise
        who = login or "the token's user"
        repo = self._get(self._repo_path, f"read the repository {self.repository}")
        if not isinstance(repo, dict):
            return ConnectionResult(False, f"{self._host} did not answer like a Gitea server; check the instance URL.")
        if repo.get("archived"):
            return ConnectionResult(False, f"{self.repository} is archived on Gitea: issues can't be filed there.")
        if not repo.get("has_issues", True) or repo.get("external_tracker"):
            return ConnectionResult(
                False,
                f"Issues are disabled on {self.repository} (or it uses an external tracker): enable the built-in "
                "issue tracker in the repository settings.",
            )
        permissions = repo.get("permissions")
        if isinstance(permissions, dict) and not permissions.get("push"):
            return ConnectionResult(
                False,
                f"{who} can read {self.repository} but not write to it: give it write access (e.g. as a "
                "collaborator with Write), so Certifai can label, close and reopen issues.",
            )
        self._get(f"{self._repo_path}/labels", f"read the labels of {self.repository}", params={"limit": 1})
        as_who = f" as {login}" if login else ""
        return ConnectionResult(
            True,
            f"Connected to Gitea at {self._host}{as_who}: {self.repository} has issues enabled and the token's user "
            "may write them (the token needs the write:issue scope to file them).",
        )

    def create_issue(self, content: IssueContent) -> ExternalIssue:
        names = issue_labels(content, self.settings.labels)
        body = {"title": content.title, "body": markdown_body(content), "labels": self._label_ids(names)}
        data = self._send("POST", f"{self._repo_path}/issues", f"create an issue in {self.repository}", body)
        if not isinstance(data, dict) or "number" not in data:
            raise TrackerTransientError(
                f"Gitea answered the creation of an issue in {self.repository} without the issue.",
                outcome_unknown=True,
            )
        return self._to_issue(self._repair_labels(data, names))

    def get_issue(self, external_id: str) -> ExternalIssue:
        number = self._number(external_id)
        data = self._get(
            self._issue_path(number),
            f"read issue #{number} in {self.repository}",
            not_found=self._issue_not_found(number),
        )
        return self._to_issue(data)

    def _edit_state(self, number: int, state: str) -> dict[str, Any]:
        verb = "close" if state == "closed" else "reopen"
        data = self._send(
            "PATCH",
            self._issue_path(number),
            f"{verb} issue #{number} in {self.repository}",
            {"state": state},
            not_found=self._issue_not_found(number),
        )
        if not isinstance(data, dict):  # PATCH answers 201 with the issue; be lenient with proxies
            data = self._get(
                self._issue_path(number),
                f"read issue #{number} in {self.repository}",
                not_found=self._issue_not_found(number),
            )
        return data

    def reopen_issue(self, external_id: str, comment: str) -> ExternalIssue:
        number = self._number(external_id)
        data = self._edit_state(number, "open")
        if comment:
            self._comment(number, comment)
        return self._to_issue(data)

    def close_issue(self, external_id: str, comment: str, accepted_risk: bool = False) -> ExternalIssue:
        number = self._number(external_id)
        if comment:
            self._comment(number, comment)
        if accepted_risk:
            self._send(
                "POST",
                f"{self._issue_path(number)}/labels",
                f"label issue #{number} in {self.repository}",
                {"labels": self._label_ids([ACCEPTED_RISK_LABEL])},
                not_found=self._issue_not_found(number),
            )
        data = self._edit_state(number, "closed")
        if not accepted_risk:
            data = self._drop_accepted_risk_label(number, data)
        return self._to_issue(data)

    def _drop_accepted_risk_label(self, number: int, data: dict[str, Any]) -> dict[str, Any]:
        """Closed as fixed after an earlier accepted-risk close: our label must not say otherwise."""
        ours = [
            label
            for label in data.get("labels") or []
            if isinstance(label, dict) and _norm_label(str(label.get("name", ""))) == ACCEPTED_RISK_LABEL
        ]
        for label in ours:
            self._call(
                "DELETE",
                f"{self._issue_path(number)}/labels/{int(label['id'])}",
                what=f"unlabel issue #{number} in {self.repository}",
                not_found=self._issue_not_found(number),
            )
        if ours:
            data = {**data, "labels": [label for label in data.get("labels") or [] if label not in ours]}
        return data

    def _comment(self, number: int, body: str) -> None:
        self._send(
            "POST",
            f"{self._issue_path(number)}/comments",
            f"comment on issue #{number} in {self.repository}",
            {"body": body},
            not_found=self._issue_not_found(number),
        )

    def comment(self, external_id: str, body: str) -> None:
        self._comment(self._number(external_id), body)

    def find_issue(self, fingerprint: str, created_after: datetime | None = None) -> ExternalIssue | None:
        what = f"look for Certifai's issue in {self.repository}"
        if created_after is not None:
            params = {
                "state": "all",
                "labels": CERTIFAI_LABEL,
                "type": "issues",
                "since": _rfc3339(created_after - FIND_MARGIN),
            }
            matches = [
                item
                for item in self._pages(f"{self._repo_path}/issues", params, what)
                if has_marker(item.get("body"), fingerprint)
            ]
            if matches:
                return self._to_issue(min(matches, key=lambda item: int(item["number"])))
        params = {"state": "all", "type": "issues", "q": fingerprint}
        hits = sorted(
            {
                int(item["number"]): item
                for item in self._pages(f"{self._repo_path}/issues", params, what, max_pages=SEARCH_PAGES)
            }.values(),
            key=lambda item: int(item["number"]),
        )
        for item in hits:
            if has_marker(item.get("body"), fingerprint):
                return self._to_issue(item)
        for item in hits[:COMMENT_CHECKS]:
            number = int(item["number"])
            comments = self._get(f"{self._issue_path(number)}/comments", what, not_found=self._issue_not_found(number))
            if any(isinstance(c, dict) and has_marker(c.get("body"), fingerprint) for c in comments or []):
                return self._to_issue(item)
        return None

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> ExternalIssue | None:
        # Gitea signs the body with the webhook secret: hex HMAC-SHA256 in X-Gitea-Signature.
        if not hmac_sha256_matches(secret, body, headers.get("x-gitea-signature")):
            raise WebhookSignatureError("X-Gitea-Signature does not match this repository's webhook secret")
        payload = webhook_json(body)
        issue = payload.get("issue")
        if headers.get("x-gitea-event") not in ("issues", None) or not isinstance(issue, dict):
            return None
        if issue.get("pull_request"):
            return None
        return self._to_issue(issue)

    def list_issues(self, external_ids: Sequence[str]) -> list[ExternalIssue]:
        wanted: list[int] = []
        for external_id in external_ids:
            try:
                number = self._number(external_id)
            except TrackerConfigError:
                continue
            if number not in wanted:
                wanted.append(number)
        if not wanted:
            return []
        found: dict[int, dict[str, Any]] = {}
        if len(wanted) > DIRECT_FETCH_MAX:
            params = {"state": "all", "labels": CERTIFAI_LABEL, "type": "issues"}
            for item in self._pages(f"{self._repo_path}/issues", params, f"list the issues of {self.repository}"):
                number = int(item.get("number", 0))
                if number in wanted:
                    found[number] = item
                    if len(found) == len(wanted):
                        break
        repo_checked = False
        for number in wanted:
            if number in found:
                continue
            try:
                found[number] = self._get(
                    self._issue_path(number),
                    f"read issue #{number} in {self.repository}",
                    not_found=self._issue_not_found(number),
                )
            except _NotFound:
                if not repo_checked:  # a missing repository must not look like missing issues
                    self._get(self._repo_path, f"read the repository {self.repository}")
                    repo_checked = True
        return [self._to_issue(found[number]) for number in wanted if number in found]
