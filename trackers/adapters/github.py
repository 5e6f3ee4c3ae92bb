"""GitHub and GitHub Enterprise Server issues, through PyGithub.

Retries and pacing, decided deliberately:

- PyGithub's default `GithubRetry` retries POST and sleeps inside the call on rate limits (up to the reset time,
  which can be an hour). A retried POST can file the same issue twice, and a Celery worker asleep in a client is
  a worker lost. So the client gets a plain urllib3 `Retry` that only retries GET/HEAD: twice on 500/502/503/504
  and on connection errors, once on a read timeout, without honouring Retry-After (no sleeping). Connect errors
  are retried for every method: the request never left. A POST or PATCH is never resent.
- Rate limits become `TrackerRateLimited(retry_after=...)`, from `retry-after`, else from `x-ratelimit-reset`
  when `x-ratelimit-remaining` is 0, else 60 s (GitHub: "wait for at least one minute"), so the task waits.
- PyGithub's own per-process throttle (`seconds_between_requests`, `seconds_between_writes`) is off: it only
  paces one process, while Certifai runs many workers; the pipeline's shared limiter paces writes per tracker.
- A write whose answer was lost (timeout, dropped connection, 5xx) raises `TrackerTransientError` with
  `outcome_unknown=True`; the caller then runs `find_issue(fingerprint, created_after=...)`, which lists recent
  issues (consistent) before it falls back to search (whose index lags behind creation).

No message ever contains the token: PyGithub exceptions carry response headers and bodies, so every error is
rebuilt from the status, GitHub's message and our own words, and raised `from None`.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, urlsplit

import github
import requests
from github import Auth, GithubException
from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass, Requester
from urllib3.exceptions import ConnectTimeoutError
from urllib3.util.retry import Retry

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
    TrackerNotFound,
    TrackerRateLimited,
    TrackerTransientError,
    WebhookSignatureError,
    has_marker,
    hmac_sha256_matches,
    webhook_json,
)
from .content import issue_labels, markdown_body

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
TOKEN_HELP = "create a new token with the Issues: read and write permission"
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
PER_PAGE = 100
SECONDARY_DEFAULT_WAIT = 60.0

# GitHub timestamps have whole seconds and GitHub's clock is not ours: look a little before `created_after`.
FIND_MARGIN = timedelta(minutes=2)


def _retry() -> Retry:
    return Retry(
        total=2,
        connect=2,
        read=1,
        status=2,
        other=0,
        allowed_methods=frozenset({"GET", "HEAD"}),  # never POST or PATCH: a resent create files twice
        status_forcelist=frozenset({500, 502, 503, 504}),
        backoff_factor=0.5,
        backoff_max=4,
        respect_retry_after_header=False,  # no sleeping in the client: raise and let the task wait
        raise_on_status=False,  # hand the last 5xx to PyGithub, which raises GithubException(status)
    )


def _guard_requester(requester: Requester, allowed_hosts: tuple[str, ...]) -> None:
    """Every connection PyGithub opens goes through netguard (public addresses only; no redirect for writes).

    PyGithub builds a `requests.Session` per connection object, inside its Requester, and offers no per-client
    hook for it (`Requester.injectConnectionClasses` is process-wide and turns off connection reuse). So this
    Requester gets its own connection classes, which guard the session they build. Fails closed: should PyGithub
    rename these attributes, no client is made at all (tests/security/test_ssrf.py covers the real client)."""

    def guarded(base: type) -> type:
        class Guarded(base):
            def __init__(self, *args: Any, **kwargs: Any):
                super().__init__(*args, **kwargs)
                netguard.guard_session(self.session, allowed_hosts, max_retries=self.retry,
                                       pool_connections=self.pool_size, pool_maxsize=self.pool_size)

        Guarded.__name__ = f"Guarded{base.__name__}"
        return Guarded

    names = ("_Requester__connectionClass", "_Requester__httpConnectionClass", "_Requester__httpsConnectionClass",
             "_Requester__connection")
    if not all(hasattr(requester, name) for name in names) or requester._Requester__connection is not None:
        raise TrackerConfigError("Certifai can't check the addresses this PyGithub version connects to, so it "
                                 "doesn't connect: install the PyGithub version in requirements.txt.")
    http, https = guarded(HTTPRequestsConnectionClass), guarded(HTTPSRequestsConnectionClass)
    current = requester._Requester__connectionClass
    requester._Requester__httpConnectionClass = http
    requester._Requester__httpsConnectionClass = https
    requester._Requester__connectionClass = https if issubclass(current, HTTPSRequestsConnectionClass) else http


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _external(data: dict[str, Any]) -> ExternalIssue:
    state = data.get("state") or "open"
    return ExternalIssue(
        tracker="github",
        external_id=str(data["number"]),
        title=data.get("title") or "",
        url=data.get("html_url") or "",
        status=state,
        state="closed" if state == "closed" else "open",
        accepted_risk=state == "closed" and data.get("state_reason") == "not_planned",
        created=_parse_time(data.get("created_at")),
        body=data.get("body") or "",
    )


def _issue_data(issue: github.Issue.Issue) -> dict[str, Any]:
    """The fields we read from a *completed* PyGithub Issue (reading them then makes no request)."""
    return {
        "number": issue.number,
        "title": issue.title,
        "html_url": issue.html_url,
        "state": issue.state,
        "state_reason": issue.state_reason,
        "created_at": issue.created_at,
        "body": issue.body,
    }


def _links(headers: dict[str, Any]) -> dict[str, str]:
    links = {}
    for part in str(headers.get("link") or "").split(","):
        match = re.search(r'<([^>]+)>\s*;\s*rel="(\w+)"', part)
        if match:
            links[match.group(2)] = match.group(1)
    return links


def _page_of(url: str | None) -> int | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("page")
    return int(values[0]) if values and values[0].isdigit() else None


class GitHubAdapter(TrackerAdapter):
    type = "github"
    display_name = "GitHub"

    def __repr__(self) -> str:
        return f"<GitHubAdapter {self.settings.repository!r} at {self.api_url}>"

    # --- client ------------------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return (self.settings.api_url or DEFAULT_API_URL).strip().rstrip("/")

    @property
    def repository(self) -> str:
        name = (self.settings.repository or "").strip().strip("/")
        name = name.removesuffix(".git")
        if not REPOSITORY.match(name):
            raise TrackerConfigError(f"The GitHub repository must be written as owner/name (for example "
                                     f"acme/app), not {name!r}.")
        return name

    @cached_property
    def client(self) -> github.Github:
        if not self.settings.token:
            raise TrackerAuthError(f"No GitHub token is configured: {TOKEN_HELP}.")
        if urlsplit(self.api_url).scheme not in ("http", "https") or not urlsplit(self.api_url).hostname:
            raise TrackerConfigError(f"The GitHub API URL must look like https://api.github.com or, for GitHub "
                                     f"Enterprise Server, https://HOST/api/v3; not {self.api_url!r}.")
        client = github.Github(
            auth=Auth.Token(self.settings.token),
            base_url=self.api_url,
            # PyGithub insists on whole seconds.
            timeout=max(1, math.ceil(self.settings.timeout)),
            user_agent="Certifai",
            per_page=PER_PAGE,
            retry=_retry(),
            # Off on purpose: this throttle paces one process only; Certifai's workers share the pipeline's
            # limiter, which paces writes per tracker across all of them (GitHub asks for writes in series).
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,  # objects are not fetched until read: create/edit/comment cost one request each
        )
        _guard_requester(client.requester, tuple(self.settings.allowed_hosts))
        return client

    @property
    def requester(self) -> Requester:
        return self.client.requester

    def _repo(self) -> github.Repository.Repository:
        return self.client.get_repo(self.repository)  # lazy: no request

    def _issue(self, external_id: str) -> github.Issue.Issue:
        return self._repo().get_issue(self._number(external_id))  # lazy: no request

    @staticmethod
    def _number(external_id: str) -> int:
        text = str(external_id).strip().lstrip("#")
        if not text.isdigit():
            raise TrackerConfigError(f"{external_id!r} is not a GitHub issue number.")
        return int(text)

    # --- errors ---------------------------------------------------------------------------------------------

    @contextmanager
    def _calling(self, action: str, *, write: bool = False, issue: str | None = None) -> Iterator[None]:
        """Turn every client error into a TrackerError with our own message (never the token)."""
        try:
            yield
        except TrackerError:
            raise
        except GithubException as exc:
            error = self._from_status(exc.status, exc.data, exc.headers or {}, action, write, issue)
            if exc.status == 404 and issue:
                error = self._issue_or_repository_missing(error)
            logger.warning("GitHub: %s", error)
            raise error from None
        except requests.exceptions.RequestException as exc:
            error = self._refused(exc, action) or self._from_transport(exc, action, write)
            logger.warning("GitHub: %s", error)
            raise error from None
        except RuntimeError:  # PyGithub refuses a redirect to another host or scheme
            error = TrackerConfigError(f"GitHub at {self.api_url} redirected the request to {action} elsewhere: "
                                       "check the API URL (GitHub Enterprise Server: https://HOST/api/v3).")
            logger.warning("GitHub: %s", error)
            raise error from None

    def _from_status(
        self, status: int, data: Any, headers: dict[str, Any], action: str, write: bool, issue: str | None
    ) -> TrackerError:
        headers = {str(k).lower(): v for k, v in headers.items()}
        message = data.get("message") if isinstance(data, dict) else None
        detail = message or "no message"
        if isinstance(data, dict) and data.get("errors"):
            parts = []
            for item in data["errors"]:
                if isinstance(item, dict):
                    parts.append(item.get("message") or " ".join(str(item.get(k, "")) for k in ("field", "code")))
                else:
                    parts.append(str(item))
            detail = f"{detail}: {'; '.join(p.strip() for p in parts if p.strip())}"
        repo = self.settings.repository
        what = f"issue #{issue} in {repo}" if issue else repo
        if status == 401:
            return TrackerAuthError(f"GitHub rejected the token (401 {message or 'Bad credentials'}): {TOKEN_HELP}.")
        if status == 429 or (status == 403 and self._is_rate_limit(message, headers)):
            wait = self._retry_after(headers)
            return TrackerRateLimited(f"GitHub rate limit reached while trying to {action} ({status}: {detail}); "
                                      f"retry in {wait:.0f} s.", retry_after=wait)
        if status == 403 and "archived" in detail.lower():
            return TrackerConfigError(f"{repo} is archived, and GitHub accepts no changes in an archived "
                                      f"repository (403: {detail}).")
        if status == 403:
            return TrackerAuthError(f"GitHub refused to {action} in {repo} (403: {detail}): the token's account "
                                    "needs write access to the repository, and a fine-grained token the Issues: "
                                    "read and write permission.")
        if status == 404:
            if issue:
                return TrackerNotFound(f"GitHub issue #{issue} was not found in {repo} (404).")
            text = self._missing_repo_message()
            if not message:  # not a JSON answer: probably not the API at all
                text += " The answer did not come from the GitHub API: for GitHub Enterprise Server the API URL is "
                text += "https://HOST/api/v3."
            return TrackerConfigError(text)
        if status == 410:
            if issue:
                return TrackerNotFound(f"GitHub issue #{issue} in {repo} was deleted (410 {detail}).")
            return TrackerConfigError(f"Issues are disabled in {repo} (410 {detail}): turn them on in the "
                                      "repository's Settings → General → Features → Issues.")
        if status == 422:
            return TrackerConfigError(f"GitHub did not accept the request to {action} in {what} (422 {detail}).")
        if status >= 500:
            return TrackerTransientError(f"GitHub answered {status} while trying to {action} in {what} ({detail}).",
                                         outcome_unknown=write)
        return TrackerConfigError(f"GitHub answered {status} while trying to {action} in {what} ({detail}).")

    def _issue_or_repository_missing(self, error: TrackerError) -> TrackerError:
        """GitHub answers 404 alike for a missing issue and for a repository the token can no longer see: one
        GET of the repository tells them apart, so a lost permission never reads as deleted issues."""
        try:
            self.requester.requestJsonAndCheck("GET", f"/repos/{self.repository}")
        except GithubException as exc:
            if exc.status == 404:
                return TrackerConfigError(self._missing_repo_message())
            return self._from_status(exc.status, exc.data, exc.headers or {}, "read the repository", False, None)
        except requests.exceptions.RequestException as exc:
            return self._refused(exc, "read the repository") or self._from_transport(exc, "read the repository", False)
        return error

    @staticmethod
    def _refused(exc: BaseException, action: str) -> TrackerConfigError | None:
        """A connection netguard refused (a non-public address, plain http, a redirected write): not retried."""
        text = netguard.refusal_text(exc, "GitHub", action)
        return TrackerConfigError(text) if text else None

    def _missing_repo_message(self) -> str:
        text = (f"Repository {self.settings.repository} was not found at {self.api_url} (404): check the owner/name, "
                "and that the token can see it (GitHub answers 404 for a private repository a token has no access "
                "to; a fine-grained token must list the repository).")
        scopes = self.requester.oauth_scopes
        if scopes is not None and "repo" not in scopes:
            text += f" This classic token has the scopes [{', '.join(s for s in scopes if s)}]: add the repo scope."
        return text

    @staticmethod
    def _is_rate_limit(message: str | None, headers: dict[str, Any]) -> bool:
        return (
            "retry-after" in headers
            or str(headers.get("x-ratelimit-remaining", "")).strip() == "0"
            or Requester.isRateLimitError(message or "")
        )

    @staticmethod
    def _retry_after(headers: dict[str, Any]) -> float:
        """GitHub: retry-after seconds if present; else, if x-ratelimit-remaining is 0, until x-ratelimit-reset
        (UTC epoch seconds); otherwise wait at least a minute."""
        value = str(headers.get("retry-after") or "").strip()
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                try:
                    return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
                except (TypeError, ValueError):
                    pass
        reset = str(headers.get("x-ratelimit-reset") or "").strip()
        if str(headers.get("x-ratelimit-remaining", "")).strip() == "0" and reset:
            try:
                return max(1.0, float(math.ceil(float(reset) - time.time())))
            except ValueError:
                pass
        return SECONDARY_DEFAULT_WAIT

    def _from_transport(self, exc: requests.exceptions.RequestException, action: str, write: bool) -> TrackerError:
        if self._never_sent(exc):
            return TrackerTransientError(f"Could not connect to GitHub at {self.api_url} to {action} "
                                         f"({type(exc).__name__}).")
        if isinstance(exc, requests.exceptions.Timeout):
            reason = f"no answer within {max(1, math.ceil(self.settings.timeout))} s"
        elif isinstance(exc, requests.exceptions.ConnectionError):
            reason = "the connection was dropped before GitHub answered"
        else:
            reason = type(exc).__name__
        suffix = " The change may have been made: look it up before trying again." if write else ""
        return TrackerTransientError(f"GitHub at {self.api_url} did not answer the request to {action}: {reason}."
                                     + suffix, outcome_unknown=write)

    @staticmethod
    def _never_sent(exc: requests.exceptions.RequestException) -> bool:
        """True when the connection could not even be opened, so the request never reached GitHub."""
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return True
        if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
            reason = getattr(exc.args[0], "reason", exc.args[0])
            return isinstance(reason, ConnectTimeoutError)  # also NewConnectionError, NameResolutionError
        return False

    # --- operations ---------------------------------------------------------------------------------------------

    connection_hint = "check the API URL (GitHub Enterprise Server: https://HOST/api/v3)"

    def check_connection(self) -> ConnectionResult:
        repo_name = self.repository
        with self._calling("read the repository"):
            repo = self._repo().complete()  # GET /repos/{owner}/{repo}
            repo_id, has_issues, archived = repo.id, repo.has_issues, repo.archived
            permissions = repo.permissions
        if not repo_id:
            return ConnectionResult(False, f"{self.api_url} did not answer like the GitHub API: check the API URL "
                                           "(GitHub Enterprise Server: https://HOST/api/v3).")
        if not has_issues:
            return ConnectionResult(False, f"Issues are turned off in {repo_name}: turn them on in the repository's "
                                           "Settings → General → Features → Issues, or choose another tracker.")
        if archived:
            return ConnectionResult(False, f"{repo_name} is archived, and GitHub accepts no new issues in an "
                                           "archived repository.")
        if permissions is not None and not permissions.push:
            role = "triage" if permissions.triage else "read-only"
            return ConnectionResult(False, f"The token can see {repo_name} but has only {role} access: GitHub "
                                           "silently drops the labels of new issues without write access, and "
                                           "Certifai needs its label to find its issues again. Give the token's "
                                           "account write access to the repository (a fine-grained token also "
                                           "needs the Issues: read and write permission).")
        return ConnectionResult(True, f"Connected to GitHub: {repo_name} is reachable with issues enabled, and the "
                                      "token's account can create, label and close issues there.")

    def create_issue(self, content: IssueContent) -> ExternalIssue:
        labels = issue_labels(content, self.settings.labels)
        with self._calling("create an issue", write=True):
            issue = self._repo().create_issue(title=content.title, body=markdown_body(content), labels=labels)
            data = _issue_data(issue)
            applied = [label.name for label in issue.labels]
        if CERTIFAI_LABEL not in applied:
            logger.warning("GitHub dropped the labels of issue #%s in %s: the token's account needs write access",
                           data["number"], self.settings.repository)
        logger.info("GitHub issue #%s created in %s", data["number"], self.settings.repository)
        return _external(data)

    def get_issue(self, external_id: str) -> ExternalIssue:
        number = self._number(external_id)
        with self._calling("read an issue", issue=str(number)):
            return _external(_issue_data(self._issue(str(number)).complete()))

    def reopen_issue(self, external_id: str, comment: str) -> ExternalIssue:
        number = self._number(external_id)
        with self._calling("reopen an issue", write=True, issue=str(number)):
            issue = self._issue(str(number))
            # State first, then the comment: a retry after a failed comment re-sends a no-op PATCH, not a
            # second comment.
            issue.edit(state="open")
            if comment:
                issue.create_comment(comment)
            return _external(_issue_data(issue))

    def close_issue(self, external_id: str, comment: str, accepted_risk: bool = False) -> ExternalIssue:
        number = self._number(external_id)
        reason = "not_planned" if accepted_risk else "completed"
        with self._calling("close an issue", write=True, issue=str(number)):
            issue = self._issue(str(number))
            # GitHub ignores state_reason unless the state changes in the same request, so an issue that is
            # already closed keeps its reason (the result reports the real one).
            issue.edit(state="closed", state_reason=reason)
            if comment:
                issue.create_comment(comment)
            return _external(_issue_data(issue))

    def comment(self, external_id: str, body: str) -> None:
        number = self._number(external_id)
        with self._calling("comment on an issue", write=True, issue=str(number)):
            self._issue(str(number)).create_comment(body)

    def find_issue(self, fingerprint: str, created_after: datetime | None = None) -> ExternalIssue | None:
        with self._calling("look up an issue"):
            if created_after is not None:
                found = self._find_by_listing(fingerprint, created_after)
                if found is not None:
                    return found
            return self._find_by_search(fingerprint)

    def _find_by_listing(self, fingerprint: str, created_after: datetime) -> ExternalIssue | None:
        """List our issues created since `created_after` (minus a margin), newest first, and match the marker.

        The listing endpoint is consistent: an issue is there as soon as its POST returned (or was lost)."""
        after = _parse_time(created_after) - FIND_MARGIN
        params = {
            "state": "all",
            "labels": CERTIFAI_LABEL,
            "since": after.strftime("%Y-%m-%dT%H:%M:%SZ"),  # updated since: a superset of created since
            "sort": "created",
            "direction": "desc",
            "per_page": PER_PAGE,
        }
        matches = []
        for item in self._pages(f"/repos/{self.repository}/issues", params):
            created = _parse_time(item.get("created_at"))
            if created is not None and created < after:
                break  # newest first: everything after this is older
            if "pull_request" not in item and has_marker(item.get("body"), fingerprint):
                matches.append(item)
        return _external(min(matches, key=lambda i: i["number"])) if matches else None

    def _find_by_search(self, fingerprint: str) -> ExternalIssue | None:
        """Search bodies for the fingerprint, then check the marker. The index lags behind creation."""
        phrase = fingerprint.replace('"', "")
        query = f'repo:{self.repository} is:issue in:body "{phrase}"'
        _, data = self.requester.requestJsonAndCheck(
            "GET", "/search/issues", parameters={"q": query, "per_page": PER_PAGE}
        )
        items = (data or {}).get("items") or []
        matches = [i for i in items if "pull_request" not in i and has_marker(i.get("body"), fingerprint)]
        return _external(min(matches, key=lambda i: i["number"])) if matches else None

    def _pages(self, url: str, params: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
        while url:
            headers, data = self.requester.requestJsonAndCheck("GET", url, parameters=params)
            yield from data or []
            url, params = _links(headers).get("next", ""), None

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> ExternalIssue | None:
        # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
        if not hmac_sha256_matches(secret, body, headers.get("x-hub-signature-256"), prefix="sha256="):
            raise WebhookSignatureError("X-Hub-Signature-256 does not match this repository's webhook secret")
        payload = webhook_json(body)
        issue = payload.get("issue")
        if headers.get("x-github-event") != "issues" or not isinstance(issue, dict) or issue.get("pull_request"):
            return None
        return _external(issue)

    def list_issues(self, external_ids: Sequence[str]) -> list[ExternalIssue]:
        """Batch refresh.

        Choice: list the repository's issues labelled `certifai` (state all, most recently updated first, 100 a
        page) and pick the wanted numbers, rather than search (30 requests a minute, and its index lags, so a
        just-closed issue can still look open). After each page, when fetching the remaining pages (known from
        `rel="last"`) would cost more than getting the still-missing issues one by one, or when the listing is
        exhausted (someone removed our label), the rest are read one by one. Cost: at most
        min(pages of our issues, number of ids) + 1 requests. Issues GitHub no longer has (404, 410) are left out.
        """
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
        found: dict[int, ExternalIssue] = {}
        with self._calling("refresh issues"):
            listed = len(wanted) > 1
            if listed:
                self._list_labelled(wanted, found)  # a 404 here means the repository, and raises
            not_found = False
            for number in wanted:
                if number not in found:
                    issue = self._get_if_exists(number)
                    if issue is not None:
                        found[number] = issue
                    not_found = not_found or issue is None
            if not_found and not listed:
                # A 404 for an issue may mean the repository is gone or hidden: don't report its issues as
                # deleted on that alone.
                self.requester.requestJsonAndCheck("GET", f"/repos/{self.repository}")
        return [found[n] for n in wanted if n in found]

    def _list_labelled(self, wanted: list[int], found: dict[int, ExternalIssue]) -> None:
        url = f"/repos/{self.repository}/issues"
        params: dict[str, Any] | None = {
            "state": "all", "labels": CERTIFAI_LABEL, "sort": "updated", "direction": "desc", "per_page": PER_PAGE,
        }
        page, last = 1, None
        while url:
            headers, data = self.requester.requestJsonAndCheck("GET", url, parameters=params)
            for item in data or []:
                if item.get("number") in wanted and "pull_request" not in item:
                    found[item["number"]] = _external(item)
            missing = len([n for n in wanted if n not in found])
            links = _links(headers)
            last = _page_of(links.get("last")) or last
            if not missing or "next" not in links:
                return
            remaining_pages = (last - page) if last else None
            if remaining_pages is None or remaining_pages > missing:
                return  # cheaper to read the missing ones one by one
            url, params, page = links["next"], None, page + 1

    def _get_if_exists(self, number: int) -> ExternalIssue | None:
        try:
            _, data = self.requester.requestJsonAndCheck("GET", f"/repos/{self.repository}/issues/{number}")
        except GithubException as exc:
            if exc.status in (404, 410):
                return None
            raise
        return None if "pull_request" in data else _external(data)
